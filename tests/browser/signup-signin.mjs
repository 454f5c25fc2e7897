// Sign up, sign out and sign back in through Sésame's real pages in headless
// Chromium, with a CDP virtual authenticator (CTAP2, internal transport,
// resident keys, user verification). Elements are found by accessible role
// and name. Also: the retry path after a refused ceremony, and an axe-core
// WCAG 2.1 A/AA audit of each page.
//
// usage: node signup-signin.mjs <issuer-url>
//   CHROMIUM            browser binary (default /usr/bin/chromium)
//   SESAME_SCREENSHOTS  directory for screenshots (360 px and 1280 px), optional
import { audit, person, run, stepper, until } from "./lib.mjs";

const issuer = process.argv[2];
if (!issuer) {
  console.error("usage: node signup-signin.mjs <issuer-url>");
  process.exit(2);
}
const shots = process.env.SESAME_SCREENSHOTS || "";
const step = stepper("browser");

async function capture(page, name) {
  if (!shots) return;
  await page.screenshot({ path: `${shots}/${name}-360.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/${name}-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 360, height: 780 });
}

await run("browser", async (browser) => {
  const { page, cdp, authenticatorId } = await person(browser, "fr-FR");

  step("sign-up page");
  await page.goto(`${issuer}/signup`);
  await page.getByRole("heading", { name: "Créer mon compte", level: 1 }).waitFor();
  await audit(page, "sign-up");
  // Submitting empty: the errors are tied to their fields and focus moves there.
  await page.getByRole("button", { name: "Créer mon compte avec une clé d’accès" }).click();
  const given = page.getByLabel("Prénom(s)");
  await until(page, () => document.activeElement && document.activeElement.id === "given_name", "focus on the given name");
  if ((await given.getAttribute("aria-invalid")) !== "true") throw new Error("given name not marked invalid");
  const described = await given.getAttribute("aria-describedby");
  const errorText = await page.locator(`#${described.split(" ").pop()}`).textContent();
  if (!errorText.includes("prénom")) throw new Error(`unexpected field error: ${errorText}`);
  await capture(page, "signup-errors");

  await given.fill("Élodie");
  await page.getByLabel("Nom de famille").fill("Dupont");
  await page.getByLabel("Adresse électronique (facultatif)").fill("elodie@example.fr");
  await capture(page, "signup");
  await page.getByRole("button", { name: "Créer mon compte avec une clé d’accès" }).click();

  step("identifier shown once");
  await page.getByRole("heading", { name: "Votre compte est créé", level: 1 }).waitFor();
  const identifier = (await page.locator("#citizen-identifier").textContent()).trim();
  if (!/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-[0-9A-Z*~$=U]$/.test(identifier)) throw new Error(`identifier ${identifier}`);
  const codes = await page.getByRole("list").locator("li").allTextContents();
  if (codes.length !== 8) throw new Error(`expected 8 recovery codes, got ${codes.length}`);
  await audit(page, "identifier");
  await capture(page, "identifier");
  await page.getByRole("link", { name: /continuer/ }).click();

  step("account");
  await page.getByRole("heading", { name: "Mon compte", level: 1 }).waitFor();
  if (!(await page.getByText(identifier).isVisible())) throw new Error("identifier not on the account page");
  await audit(page, "account");
  await capture(page, "account");

  step("sign out (the authenticator now waits for a person: no automatic presence)");
  await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: false });
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await page.getByRole("heading", { name: "Se connecter", level: 1 }).waitFor();
  const username = page.getByLabel("Identifiant citoyen (facultatif)");
  if ((await username.getAttribute("autocomplete")) !== "username webauthn") throw new Error("no passkey autofill field");
  await audit(page, "sign-in");
  await capture(page, "signin");

  step("refused ceremony: readable message and retry");
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
  await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: true });
  await page.getByRole("button", { name: "Se connecter avec une clé d’accès" }).click();
  const retry = page.getByRole("button", { name: "Réessayer" });
  await retry.waitFor();
  const alert = (await page.locator("#ceremony-message").textContent()).trim();
  if (!alert) throw new Error("no readable error message");
  step(`error shown: ${alert}`);
  await capture(page, "signin-error");

  step("retry, then signed in with the passkey (usernameless, button)");
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: true });
  await retry.click();
  await page.getByRole("heading", { name: "Mon compte", level: 1 }).waitFor();
  if (!(await page.getByText("Élodie", { exact: true }).isVisible())) throw new Error("given name not shown");

  step("sign out, then signed in from the passkey autofill (conditional mediation)");
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await page.getByRole("heading", { name: "Mon compte", level: 1 }).waitFor();
  if (!(await page.getByText(identifier).isVisible())) throw new Error("identifier not shown after autofill sign-in");

  step("keyboard only: the skip link is first and reaches the main content");
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
  if (first !== "Aller au contenu") throw new Error(`first focus stop: ${first}`);

  return { identifier };
});
