// The ANTS-style démarche in a real browser (Debian's Chromium driven by
// playwright-core), run by crates/testkit/tests/browser.rs: from the
// portal to the ANTS space through the hub, a driving-licence application
// filled in over its steps, a photo code refused, the draft saved, a
// second application refused with the way to the first, the draft resumed
// and filed. Every page is screenshotted and checked with axe-core.
//
// Usage: node demarches-journey.mjs '{"demo_sp": …, "hub": …, "login": …,
//   "password": …, "photo_code": …, "screenshots": "dir"}'
import { openBrowser, report } from './browser-kit.mjs';

const run = JSON.parse(process.argv[2]);
const { page, check, consoleErrors, guard } = await openBrowser(run);

await guard(async () => {
  // The portal lists the démarches with their levels.
  await page.goto(run.demo_sp);
  await check('portal');
  report({ page: 'portal-list', items: await page.locator('ul.pa-providers li').allInnerTexts() });
  await page.getByRole('link', { name: /^ANTS \(démo\)/ }).click();
  await check('ants-welcome');

  // Through the hub, with an impots.gouv account.
  await page.getByRole('link', { name: "S'identifier avec Passerelle" }).click();
  await page.waitForURL(`${run.hub}/interaction`);
  await page.getByRole('button', { name: /impots\.gouv/ }).click();
  await page.getByLabel('Numéro fiscal').fill(run.login);
  await page.getByLabel('Mot de passe').fill(run.password);
  await page.getByRole('button', { name: /connecter/i }).click();
  await page.waitForURL(`${run.hub}/interaction/consent`);
  await page.getByRole('button', { name: 'Continuer sur ANTS (démo)' }).click();
  await page.waitForURL(`${run.demo_sp}/ants/`);
  await check('ants-space');

  // Mon espace Conducteur, a driving-licence application.
  await page.getByRole('link', { name: 'Mon espace Conducteur' }).first().click();
  await check('ants-conducteur');
  await page.getByRole('button', { name: 'Faire une demande de permis de conduire' }).click();
  await check('ants-step-identity');
  report({ page: 'ants-identity', known: await page.locator('table.pa-data').innerText() });
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.locator('#adresse').fill('12 rue des Lilas');
  await page.locator('#code_postal').fill('75015');
  await page.locator('#commune').fill('Paris');
  await check('ants-step-contact');
  await page.getByRole('button', { name: 'Continuer' }).click();

  // A photo code that is not 22 letters and digits is named.
  await page.locator('#motif').selectOption('premiere');
  await page.locator('#categorie').selectOption('B');
  await page.locator('#code_photo').fill('ABC123');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await check('ants-photo-code-error');
  report({ page: 'ants-photo-code-alert', text: await page.getByRole('alert').innerText() });

  // Saved to finish later; a second application is refused.
  await page.getByRole('button', { name: 'Enregistrer et reprendre plus tard' }).click();
  await check('ants-saved');
  await page.goto(`${run.demo_sp}/ants/espace/conducteur`);
  await page.getByRole('button', { name: 'Faire une demande de permis de conduire' }).click();
  await check('ants-already-in-progress');
  report({ page: 'ants-in-progress-alert', text: await page.getByRole('alert').innerText() });
  await page.getByRole('link', { name: 'Reprendre ma démarche en cours' }).click();
  await check('ants-resumed');

  // Resumed where it was left, then filed.
  await page.locator('#code_photo').fill(run.photo_code);
  await page.getByRole('button', { name: 'Continuer' }).click();
  await check('ants-summary');
  await page.getByLabel("Je certifie l'exactitude des informations de cette demande.").check();
  await page.getByRole('button', { name: 'Valider ma demande' }).click();
  await check('ants-filed');
  report({ page: 'ants-filed-text', text: await page.getByRole('status').first().innerText() });
  report({ console_errors: [...consoleErrors], done: true });
});
