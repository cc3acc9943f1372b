// Open-redirect tricks in a real browser (Debian's Chromium driven by
// playwright-core), run by crates/testkit/tests/browser.rs (issue 15): on
// every site of the federation, the language switch is opened with each
// `retour` an attacker could put in a phishing mail. Chromium drops tabs
// and newlines, reads `\` as `/`: whatever it makes of our `Location`, it
// must stay on the site. Every request to another origin is recorded (the
// `request` event sees each hop of a redirect, which `route` does not) and
// none can leave the machine: Chromium resolves no name but 127.0.0.1, and
// other requests are aborted. Dialogs are recorded too.
//
// Usage: node redirect-journey.mjs '{"sites": {"hub_standard": url, …},
//   "screenshots": "dir"}'
import { openBrowser, report } from './browser-kit.mjs';

// The query text as it would be written in a link (percent-encoding is
// decoded once by the server before the check).
const PAYLOADS = [
  '/%09/evil.example',
  '/%0a/evil.example',
  '/%0d/evil.example',
  '/%0d%0a/evil.example',
  '%09//evil.example',
  '%20//evil.example',
  '%00//evil.example',
  '//evil.example',
  '///evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/%5Cevil.example',
  '/%255Cevil.example',
  '%2F%2Fevil.example',
  '/%2F/evil.example',
  '/%252F/evil.example',
  '/%2509/evil.example',
  '/.//evil.example',
  '/%2e//evil.example',
  '/a/..//evil.example',
  'http://evil.example/',
  'https://evil.example',
  'HTTPS:%2F%2Fevil.example',
  'http:evil.example',
  '/@evil.example',
  '@evil.example',
  'http://127.0.0.1@evil.example/',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'evil.example',
];

const run = JSON.parse(process.argv[2]);
const { page, guard } = await openBrowser(run, { loopbackOnly: true });

const offsite = [];
const dialogs = [];
const consoleErrors = [];
// The site under test; every request elsewhere is recorded and aborted.
let site = null;
// The pages the tab asked for since the last payload.
const navigations = [];

// A switch answers at once: a navigation that takes seconds is a failure
// to report, never a wait without end.
page.setDefaultTimeout(10000);
page.on('request', (request) => {
  if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
    navigations.push(request.url());
  }
  if (new URL(request.url()).origin !== site) offsite.push(request.url());
});
page.on('dialog', async (dialog) => {
  dialogs.push(`${page.url()}: ${dialog.message()}`);
  await dialog.dismiss();
});
page.on('console', (message) => {
  if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
});
await page.route('**/*', async (route) => {
  if (new URL(route.request().url()).origin !== site) {
    await route.abort('blockedbyclient');
  } else {
    await route.continue();
  }
});

// One tab for every site: Chromium 156 refuses a new tab after about ten
// (`Target.createTarget: Failed to open a new tab`), then never closes.
// Each payload is a new navigation, whatever page the last one left.
await guard(async () => {
  for (const [name, base] of Object.entries(run.sites)) {
    site = new URL(base).origin;
    const landings = new Set();
    for (const payload of PAYLOADS) {
      navigations.length = 0;
      let status = null;
      let failure = null;
      try {
        status = (await page.goto(`${site}/langue/en?retour=${payload}`))?.status() ?? null;
      } catch (error) {
        // A landing page without a body (a provider's 404 home) fails
        // `goto`; where the browser went is known all the same.
        failure = String(error);
        await page.waitForLoadState('load', { timeout: 5000 }).catch(() => {});
      }
      // Where the browser went: the last page it asked for.
      const landed = new URL(navigations.at(-1) ?? 'about:blank');
      landings.add(`${landed.origin === site ? '' : landed.origin}${landed.pathname}`);
      if (landed.origin !== site || (status ?? 0) >= 500) {
        report({ site: name, payload, navigations: [...navigations], status, failure });
      }
    }
    report({ site: name, origin: site, tried: PAYLOADS.length, landings: [...landings] });
  }
  report({ done: true, offsite, dialogs, console_errors: consoleErrors });
});
