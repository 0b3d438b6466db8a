import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../src/platform/paths.js';

/** Screenshots of key screens, kept as CI artifacts (gitignored). */
export const SCREENSHOT_DIR = join(PROJECT_ROOT, 'test-artifacts', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * Runs axe-core in the page and fails on serious or critical violations. The script goes in
 * through the DevTools protocol (page.evaluate), which the page's CSP does not govern: the CSP
 * stays exactly as the server sent it.
 */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const source = await axeSource;
  await page.evaluate(source);
  const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`)) as AxeViolation[];
  const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(serious, `${label}: ${JSON.stringify(serious, null, 1)}`).toEqual([]);
}

export interface PageWatch {
  /** Every URL the pages of the context requested outside `origin` (none allowed). */
  foreign: string[];
  /** CSP violations the pages reported (none allowed). */
  violations: string[];
  /** Script errors (none allowed). */
  errors: string[];
}

/**
 * Watches every page of a context: requests to other origins, CSP violation reports, and
 * uncaught errors. `data:` and `blob:` URLs are the page's own (the QR code, downloads).
 */
export async function watchContext(context: BrowserContext, origin: string): Promise<PageWatch> {
  const watch: PageWatch = { foreign: [], violations: [], errors: [] };
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) watch.foreign.push(url);
  });
  await context.exposeBinding('__rampartCspViolation', (_source, text: string) => {
    watch.violations.push(text);
  });
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => { void window.__rampartCspViolation(event.violatedDirective + ' ' + event.blockedURI); });`,
  });
  context.on('weberror', (error) => watch.errors.push(String(error.error())));
  return watch;
}

export function expectClean(watch: PageWatch): void {
  expect(watch.foreign, 'requests to other origins').toEqual([]);
  expect(watch.violations, 'CSP violations').toEqual([]);
  expect(watch.errors, 'script errors').toEqual([]);
}
