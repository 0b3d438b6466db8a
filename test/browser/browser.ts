import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, BrowserContextOptions } from 'playwright-core';

/** Debian's chromium (.ci/run installs it); playwright-core downloads no browser of its own. */
export const CHROMIUM_PATH = process.env.RAMPART_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface LaunchedBrowser {
  /** A fresh, isolated context: no cookies or storage shared with other contexts. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches headless Debian chromium for any browser test (the dashboard's, the consent
 * banner's); close it in afterAll. Playwright's launch gives every browser a fresh temporary
 * user-data-dir of its own (and refuses one passed in --user-data-dir), removed on close.
 */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
  return {
    browser,
    newContext: (options) => browser.newContext({ acceptDownloads: true, ...options }),
    close: () => browser.close(),
  };
}
