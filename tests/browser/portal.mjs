// A service laid out as an SSO portal, in headless Chromium: its callback
// (and its post-logout page) on one origin redirect to the application on a
// second origin, as LemonLDAP::NG's portal or a `login.` host in front of
// `www.` do. The citizen's choices on Sésame's forms (consent, account
// choice, logout confirmation) must end at the application whatever the
// service does next. The application's own pages POST to /authorize and
// /logout from another site, where the SameSite=Lax session is not sent.
// The account choice is audited with axe-core (WCAG 2.1 A/AA), fr and en.
//
// usage: node portal.mjs <issuer> <authorize-url> <application-origin> <form-post-authorize-url>
//   CHROMIUM  browser binary (default /usr/bin/chromium)
import { audit, person, run, signUp, stepper } from "./lib.mjs";

const [issuer, authorize, application, formPost] = process.argv.slice(2);
if (!formPost) {
  console.error("usage: node portal.mjs <issuer> <authorize-url> <application-origin> <form-post-authorize-url>");
  process.exit(2);
}
const step = stepper("portal");

await run("portal", async (browser) => {
  const { page } = await person(browser, "fr-FR");
  // Generous: the runner may be busy (each step is one or two navigations).
  page.setDefaultTimeout(30_000);
  const arrived = async (path, heading) => {
    await page.waitForURL(`${application}${path}`);
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
  };

  step("sign up");
  await signUp(page, issuer, "Élodie", "Dupont");

  step("consent, then the portal's callback sends the browser to the application's origin");
  await page.goto(authorize);
  await page.getByRole("heading", { name: "Autoriser ce service", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Autoriser" }).click();
  await arrived("/app", "Application ouverte");

  for (const [lang, heading, button] of [
    ["fr", "Choisir un compte", "Continuer en tant que Élodie Dupont"],
    ["en", "Choose an account", "Continue as Élodie Dupont"],
  ]) {
    step(`the application POSTs to /authorize from its own origin (prompt=select_account, ${lang})`);
    await page.goto(`${application}/sign-in?ui_locales=${lang}`);
    await page.getByRole("button", { name: "Sésame" }).click();
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
    await audit(page, `account choice (${lang})`);
    await page.getByRole("button", { name: button }).click();
    await arrived("/app", "Application ouverte");
  }

  step("response_mode=form_post: the code is posted to the portal, which sends the browser on");
  await page.goto(formPost);
  await arrived("/app", "Application ouverte");

  step("the application POSTs to /logout from its own origin; the citizen confirms");
  await page.goto(`${application}/sign-out`);  // its form names ui_locales=fr
  await page.getByRole("button", { name: "Sésame" }).click();
  await page.getByRole("heading", { name: "Se déconnecter", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Me déconnecter" }).click();
  await arrived("/bye", "Au revoir");

  step("signed out of Sésame");
  await page.goto(`${issuer}/account`);
  await page.getByRole("heading", { name: "Se connecter", level: 1 }).waitFor();

  return {};
});
