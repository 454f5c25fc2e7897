// Sign up, sign out and sign back in through Sésame's real pages in headless
// Chromium, with a CDP virtual authenticator (CTAP2, internal transport,
// resident keys, user verification). Elements are found by accessible role
// and name. Also: the retry path after a refused ceremony, and an axe-core
// WCAG 2.1 A/AA audit of each page.
//
// usage: node signup-signin.mjs <issuer-url>
//   CHROMIUM            browser binary (default /usr/bin/chromium)
//   SESAME_SCREENSHOTS  directory for screenshots (360 px and 1280 px), optional
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const issuer = process.argv[2];
if (!issuer) {
  console.error("usage: node signup-signin.mjs <issuer-url>");
  process.exit(2);
}
const shots = process.env.SESAME_SCREENSHOTS || "";
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const step = (text) => console.log(`[browser] ${text}`);

async function audit(page, name) {
  // Runs through CDP, so the page's strict CSP does not apply to it.
  const result = await page.evaluate(
    `${axeSource}; axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html).slice(0, 3) })))`,
  );
  if (result.length) {
    throw new Error(`accessibility violations on ${name}: ${JSON.stringify(result, null, 2)}`);
  }
  step(`axe: no WCAG 2.1 A/AA violation on ${name}`);
}

// page.waitForFunction evaluates strings in the page, which the CSP forbids.
async function until(page, predicate, what) {
  for (let i = 0; i < 100; i += 1) {
    if (await page.evaluate(predicate)) return;
    await page.waitForTimeout(100);
  }
  const where = await page.evaluate(() => (document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "none"));
  throw new Error(`timed out waiting for ${what} (focus on ${where})`);
}

async function capture(page, name) {
  if (!shots) return;
  await page.screenshot({ path: `${shots}/${name}-360.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/${name}-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 360, height: 780 });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  timeout: 30_000,
});
const deadline = setTimeout(() => {
  console.error("[browser] overall deadline (90 s) passed");
  process.exit(1);
}, 90_000);

try {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "fr-FR" });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => { if (m.type() === "error") console.error(`[page] ${m.text()}`); });
  page.on("response", async (r) => {
    if (r.status() >= 400) console.error(`[page] ${r.request().method()} ${r.url()} → ${r.status()} ${await r.text().catch(() => "")}`);
    else if (r.request().method() === "POST") console.error(`[page] POST ${r.url()} → ${r.status()}`);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

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

  console.log(JSON.stringify({ ok: true, identifier }));
} catch (error) {
  console.error(`[browser] FAILED: ${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await browser.close();
}
