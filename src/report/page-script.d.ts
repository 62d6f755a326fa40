/** Made by scripts/bundle-report-page.mjs from src/report/page/: the page's bundled script and its style sheet. */
export declare const PAGE_SCRIPT: string;
export declare const PAGE_STYLE: string;
