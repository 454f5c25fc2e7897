// Single sign-on and single logout across two services in headless
// Chromium with a CDP virtual authenticator: sign up while logging in to the
// first service, reach the second without touching the authenticator, log
// out from the first. Elements are found by accessible role and name.
//
// usage: node sso.mjs <first-service-url> <second-service-url>
//   CHROMIUM  browser binary (default /usr/bin/chromium)
import { person, run, stepper } from "./lib.mjs";

const [first, second] = process.argv.slice(2);
if (!first || !second) {
  console.error("usage: node sso.mjs <first-service-url> <second-service-url>");
  process.exit(2);
}
const step = stepper("sso");

await run("sso", async (browser) => {
  const { page, cdp, authenticatorId } = await person(browser, "fr-FR");
  const signCount = async () => {
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    return credentials.map((c) => c.signCount).join(",");
  };

  step("first service: sign in with Sésame, creating the account on the way");
  await page.goto(`${first}/`);
  await page.getByRole("link", { name: "Se connecter avec Sésame" }).click();
  await page.getByRole("heading", { name: "Se connecter", level: 1 }).waitFor();
  await page.getByRole("link", { name: "Créer mon compte Sésame" }).click();
  await page.getByLabel("Prénom(s)").fill("Élodie");
  await page.getByLabel("Nom de famille").fill("Dupont");
  await page.getByRole("button", { name: "Créer mon compte avec une clé d’accès" }).click();
  await page.getByRole("heading", { name: "Votre compte est créé", level: 1 }).waitFor();
  await page.getByRole("link", { name: /continuer/ }).click();
  await page.getByRole("heading", { name: "Autoriser ce service", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Autoriser" }).click();
  await page.getByText("Connecté(e) avec Sésame.").waitFor();
  const firstSub = (await page.locator("#sub").textContent()).trim();
  const usesAfterFirst = await signCount();

  step("second service: no ceremony, only its consent");
  await page.goto(`${second}/`);
  await page.getByRole("link", { name: "Se connecter avec Sésame" }).click();
  await page.getByRole("heading", { name: "Autoriser ce service", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Autoriser" }).click();
  await page.getByText("Connecté(e) avec Sésame.").waitFor();
  const secondSub = (await page.locator("#sub").textContent()).trim();
  if (firstSub === secondSub) throw new Error("both services got the same sub");
  if ((await signCount()) !== usesAfterFirst) throw new Error("the authenticator was used again");

  step("log out from the first service");
  await page.goto(`${first}/`);
  await page.getByRole("button", { name: "Se déconnecter / Sign out" }).click();
  await page.getByText("Vous n’êtes pas connecté(e).").waitFor();
  if (!page.url().startsWith(`${first}/`)) throw new Error(`not back at the first service: ${page.url()}`);

  return { firstSub, secondSub };
});
