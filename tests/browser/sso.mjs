// Single sign-on and single logout across two services in headless
// Chromium with a CDP virtual authenticator: sign up while logging in to the
// first service, reach the second without touching the authenticator, log
// out from the first. Elements are found by accessible role and name.
//
// usage: node sso.mjs <first-service-url> <second-service-url>
//   CHROMIUM  browser binary (default /usr/bin/chromium)
import { chromium } from "playwright-core";

const [first, second] = process.argv.slice(2);
if (!first || !second) {
  console.error("usage: node sso.mjs <first-service-url> <second-service-url>");
  process.exit(2);
}
const step = (text) => console.log(`[sso] ${text}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  timeout: 30_000,
});
const deadline = setTimeout(() => {
  console.error("[sso] overall deadline (90 s) passed");
  process.exit(1);
}, 90_000);

try {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "fr-FR" });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("response", async (r) => {
    if (r.status() >= 400) console.error(`[page] ${r.request().method()} ${r.url()} → ${r.status()}`);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
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

  console.log(JSON.stringify({ ok: true, firstSub, secondSub }));
} catch (error) {
  console.error(`[sso] FAILED: ${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await browser.close();
}
