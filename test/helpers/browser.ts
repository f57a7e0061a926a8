// A real headless Chromium for page tests: Debian's /usr/bin/chromium (apt-get install chromium; .ci/run installs it)
// or CHROMIUM_PATH, driven by playwright-core; the app listening on 127.0.0.1; axe-core scans and full-page screenshots.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestApp } from '../helper.js';

type Tap = { teardown(fn: () => unknown): void; comment(...args: unknown[]): void };

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots');

/** Chromium, headless, with nothing of its own on the network; closed when the test ends. */
export async function launchBrowser(t: Tap): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** Makes the test app listen on a free loopback port (build(t) closes it) and answers its base URL. */
export async function listen(ta: TestApp): Promise<string> {
  await ta.app.listen({ host: '127.0.0.1', port: 0 });
  const address = ta.app.server.address();
  if (!address || typeof address === 'string') throw new Error('the app is not listening on a TCP port');
  return `http://127.0.0.1:${address.port}`;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa'];

export type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] };

/** Runs axe-core on the page as it is (injected with evaluate, which the page's CSP does not govern) against WCAG
 * 2.0-2.2 A/AA; answers the serious and critical violations and prints the others as comments. */
export async function axeScan(t: Tap, page: Page, state: string): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags: string[]) => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  }, AXE_TAGS);
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of violations.filter((x) => !blocking.includes(x))) t.comment(`axe (${state}, ${v.impact}): ${v.id} — ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  return blocking;
}

/** A full-page screenshot, 1000px wide, written to docs/screenshots/<state>.png (committed; linked from the README). */
export async function screenshot(page: Page, state: string): Promise<void> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  await page.setViewportSize({ width: 1000, height: 800 });
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${state}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
}
