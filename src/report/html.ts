import type { ReportData } from './report-data.js';

/**
 * The report as one HTML file: its data as embedded JSON, its script and style inline,
 * and a Content-Security-Policy that lets the page load nothing at all, so it reads the
 * same from `file://`, a mail attachment or an air-gapped CI artifact.
 */
export async function reportHtml(data: ReportData): Promise<string> {
  const { PAGE_SCRIPT, PAGE_STYLE } = await import('./page-script.js');
  // `<` escaped keeps a file name such as `</script>` from ending the data block early.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const script = PAGE_SCRIPT.replace(/<\/(script)/gi, '<\\/$1');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>strata: where the disk went</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main id="report"><h1>strata: where the disk went</h1></main>
<script type="application/json" id="report-data">${json}</script>
<script>${script}</script>
</body>
</html>
`;
}
