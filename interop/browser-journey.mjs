// The citizen's journey in a real browser (Debian's Chromium driven by
// playwright-core), run by the Rust test suite (crates/testkit/tests/browser.rs):
// login at the demo service through impots, single sign-on to the dashboard,
// the dashboard showing both connections, logout from the demo service ending
// the dashboard session too. Every page is screenshotted and checked with
// axe-core; each check prints one JSON line, the last one is {"done": true}.
//
// Usage: node browser-journey.mjs '{"demo_sp": …, "dashboard": …, "hub": …,
//   "login": …, "password": …, "screenshots": "dir"}'
import { atAuthorize, openBrowser, report } from './browser-kit.mjs';

const run = JSON.parse(process.argv[2]);
const { page, check, consoleErrors, guard } = await openBrowser(run);

await guard(async () => {
  // The demo service, then the choice page.
  await page.goto(run.demo_sp);
  await check('demo-home');
  await page.getByRole('link', { name: "S'identifier avec Passerelle", exact: true }).click();
  await page.waitForURL(`${run.hub}/interaction`);
  await check('choice');
  // Keyboard: the first Tab reaches the skip link.
  await page.keyboard.press('Tab');
  const firstFocus = await page.evaluate(() => document.activeElement?.textContent?.trim());
  report({ page: 'choice-keyboard', first_focus: firstFocus });

  await page.getByRole('button', { name: /impots\.gouv/ }).click();
  await check('provider-login');
  await page.getByLabel('Numéro fiscal').fill(run.login);
  await page.getByLabel('Mot de passe').fill(run.password);
  await page.getByRole('button', { name: /connecter/i }).click();
  await page.waitForURL(`${run.hub}/interaction/consent`);
  await check('consent');
  await page.getByRole('button', { name: 'Continuer sur Service de démonstration' }).click();
  await page.waitForURL(`${run.demo_sp}/me`);
  await check('demo-identity');

  // Single sign-on to the dashboard: no choice, no provider, a confirmation.
  await page.goto(run.dashboard);
  await check('dashboard-welcome');
  await page.getByRole('link', { name: "S'identifier avec Passerelle" }).click();
  await page.waitForURL(atAuthorize);
  await check('consent-sso');
  await page.getByRole('button', { name: 'Continuer sur Tableau de bord' }).click();
  await page.waitForURL(`${run.dashboard}/`);
  await check('dashboard');
  report({
    page: 'dashboard-history',
    rows: await page.locator('table.pa-data tbody tr').allInnerTexts(),
  });
  await page.getByRole('link', { name: "Vérifier l'intégrité de l'historique" }).click();
  await check('verification');
  await page.goto(`${run.dashboard}/signalement`);
  await check('report');

  // Logout from the demo service: the hub, the provider, and by the back
  // channel the dashboard.
  await page.goto(`${run.demo_sp}/me`);
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.waitForURL(`${run.demo_sp}/logged-out**`);
  await check('logged-out');
  report({ page: 'logged-out-text', text: await page.locator('main').innerText() });
  let dashboardEnded = false;
  for (let attempt = 0; attempt < 30 && !dashboardEnded; attempt += 1) {
    await page.goto(run.dashboard);
    dashboardEnded = (await page.getByRole('link', { name: "S'identifier avec Passerelle" }).count()) > 0;
    if (!dashboardEnded) await page.waitForTimeout(200);
  }
  report({ page: 'dashboard-after-logout', ended: dashboardEnded });

  // The password providers' account pages: creation (with a refused input),
  // the ANTS-like form and its captcha image, the forgotten password.
  await page.goto(`${run.impots}/inscription`);
  await check('signup-impots');
  await page.getByLabel('Numéro fiscal').fill('123');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await check('signup-impots-error');
  report({ page: 'signup-impots-alert', text: await page.getByRole('alert').innerText() });
  await page.goto(`${run.ants}/inscription`);
  await check('signup-ants');
  report({
    page: 'signup-ants-captcha',
    loaded: await page.locator('img[src="/captcha.svg"]').evaluate((image) => image.complete && image.naturalWidth > 0),
  });
  await page.goto(`${run.impots}/mot-de-passe-oublie`);
  await check('forgot-password');

  // In English, by the switch of the page header.
  await page.goto(run.demo_sp);
  await page.getByRole('link', { name: 'English' }).click();
  await check('demo-home-en');
  await page.getByRole('link', { name: 'Log in with Passerelle', exact: true }).click();
  await page.waitForURL(`${run.hub}/interaction`);
  await check('choice-en');

  // An error page of the hub (its 400 status is the only console error
  // expected, so the journey's errors are taken before).
  const journeyErrors = [...consoleErrors];
  await page.goto(`${run.hub}/api/v2/authorize?client_id=nobody`);
  await check('hub-error-en');
  report({ console_errors: journeyErrors, done: true });
});
