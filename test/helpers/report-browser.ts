/**
 * A report page opened in headless chromium (playwright-core, Debian's chromium): the
 * browser is launched once per test file, each page records what it asked the network
 * for and every error it printed or threw.
 */
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM } from './tools.js';

export interface OpenedReport {
  page: Page;
  /** Every URL the page requested, its own file:// address included. */
  requests: string[];
  /** Uncaught exceptions and console.error lines. */
  errors: string[];
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  // chromium's sandbox refuses to start as root, which CI runs as.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}

/** Opens `file` and waits until its script says it has drawn everything. */
export async function openReport(browser: Browser, file: string, colorScheme: 'light' | 'dark' = 'light'): Promise<OpenedReport> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, colorScheme });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
  return { page, requests, errors };
}

/**
 * How many distinct colours a PNG has, counted by the browser that made it: a blank
 * or single-colour page has one or two, a drawn report hundreds.
 */
export async function distinctColours(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const g = canvas.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const px = g.getImageData(0, 0, img.width, img.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < px.length; i += 4) seen.add((px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!);
      return seen.size;
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}
