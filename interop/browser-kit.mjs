// What every browser journey shares: Debian's Chromium driven by
// playwright-core, a French context that lets the test inject axe-core
// (our pages forbid every script by CSP), one JSON line per report, and a
// `check` that screenshots a page then reports its serious and critical
// axe violations.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Prints one report line. */
export const report = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** Whether the browser is at the hub's authorization endpoint, which in
 * single sign-on answers with the consent page itself. */
export const atAuthorize = (url) => url.pathname === '/api/v2/authorize';

/** `promise`, or a rejection naming `what` after `ms`: a step of Chromium
 * that never answers is a failure to report, never a wait without end. */
export function within(ms, what, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Opens the browser for `run` ({chromium?, screenshots}); returns the page,
 * its `check`, the console errors seen so far, and `close`. With
 * `{ loopbackOnly: true }`, Chromium resolves no name but 127.0.0.1: a test
 * that provokes a request elsewhere never reaches the internet. */
export async function openBrowser(run, { loopbackOnly = false } = {}) {
  // The whole journey is bounded too: past `run.deadline_ms` (5 minutes
  // unless told), it reports and leaves, whatever Chromium is doing.
  setTimeout(() => {
    report({ error: 'the journey went past its deadline' });
    process.exit(1);
  }, run.deadline_ms ?? 300000).unref();
  fs.mkdirSync(run.screenshots, { recursive: true });
  const args = ['--no-sandbox'];
  if (loopbackOnly) args.push('--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1');
  const browser = await chromium.launch({
    executablePath: run.chromium ?? '/usr/bin/chromium',
    headless: true,
    args,
  });
  const context = await browser.newContext({ bypassCSP: true, locale: 'fr-FR' });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
  });

  /** Screenshot, then axe: serious and critical violations are reported. */
  async function check(name) {
    await page.screenshot({ path: path.join(run.screenshots, `${name}.png`), fullPage: true });
    await page.evaluate(axeSource);
    const results = await page.evaluate(() =>
      // eslint-disable-next-line no-undef
      axe.run(document, { resultTypes: ['violations'] }),
    );
    const violations = results.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => ({
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        targets: violation.nodes.map((node) => node.target.join(' ')),
      }));
    report({ page: name, url: page.url(), title: await page.title(), violations });
  }

  /** Runs the journey; a failure is reported with a screenshot. */
  async function guard(journey) {
    try {
      await journey();
    } catch (error) {
      await page.screenshot({ path: path.join(run.screenshots, 'failure.png'), fullPage: true }).catch(() => {});
      report({ error: String(error), url: page.url() });
      process.exitCode = 1;
    } finally {
      // A Chromium that will not close is killed with this process.
      await within(10000, 'browser.close', browser.close()).catch(() => process.exit(process.exitCode ?? 1));
    }
  }

  return { page, check, consoleErrors, guard };
}
