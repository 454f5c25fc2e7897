// The citizen's account pages in headless Chromium, in French and in
// English, each audited with axe-core (WCAG 2.1 A/AA): the declared
// identity (the commune chosen from the list the script fills as one
// types), the email address and its code form, and — once the test has
// moved the provider's clock past five minutes — the passkey confirmation
// asked before renewing the recovery codes, which then goes through.
//
// usage: node account.mjs <issuer-url>
//   CHROMIUM            browser binary (default /usr/bin/chromium)
//   stdin               one line once the clock moved (after "waiting for the clock")
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [issuer] = process.argv.slice(2);
if (!issuer) {
  console.error("usage: node account.mjs <issuer-url>");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const step = (text) => console.log(`[browser] ${text}`);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function audit(page, name) {
  const result = await page.evaluate(
    `${axeSource}; axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html).slice(0, 3) })))`,
  );
  if (result.length) throw new Error(`accessibility violations on ${name}: ${JSON.stringify(result, null, 2)}`);
  step(`axe: no WCAG 2.1 A/AA violation on ${name}`);
}

async function person(browser) {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "fr-FR" });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => { if (m.type() === "error") console.error(`[page] ${m.text()}`); });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return page;
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

const french = {
  q: "", account: "Mon compte", identity: "Mon identité déclarée", save: "Enregistrer mon identité",
  day: "Jour", month: "Mois", year: "Année", commune: /Commune de naissance|lieu de naissance/i,
  email: "Mon adresse électronique", address: "Adresse électronique", send: "Enregistrer et m’envoyer un code",
  code: "Code reçu par courriel", renew: "Obtenir de nouveaux codes de secours", confirm: "Confirmez que c’est vous",
  confirmButton: "Confirmer avec ma clé d’accès", renewed: "Nouveaux codes de secours",
};
const english = {
  q: "?ui_locales=en", account: "My account", identity: "My declared identity", save: "Save my identity",
  day: "Day", month: "Month", year: "Year", commune: /birth/i,
  email: "My email address", address: "Email address", send: "Save and send me a code",
  code: "Code received by email", renew: "Get new recovery codes", confirm: "Confirm it is you",
  confirmButton: "Confirm with my passkey", renewed: "New recovery codes",
};

async function declare(page, l, lang) {
  await page.goto(`${issuer}/account/identity${l.q}`);
  await page.getByRole("heading", { name: l.identity, level: 1 }).waitFor();
  await audit(page, `declared identity (${lang})`);
  await page.getByLabel(l.month, { exact: true }).fill("5");
  await page.getByLabel(l.year, { exact: true }).fill("1990");
  await page.locator("#birthcountry").fill("FRANCE");
  // The list fills from the official code as one types.
  await page.locator("#birthplace").pressSequentially("Lyo");
  await page.locator("#communes option").first().waitFor({ state: "attached" });
  const offered = await page.locator("#communes option").first().getAttribute("value");
  if (!/^Lyon/.test(offered)) throw new Error(`the list offers ${offered}`);
  await page.locator("#birthplace").fill(offered);
  await page.locator("#postal_code").fill("69001");
  await page.locator("#phone_number").fill("not a number");
  await page.getByRole("button", { name: l.save }).click();
  await page.getByRole("heading", { name: l.identity, level: 1 }).waitFor();
  if ((await page.locator("#phone_number").getAttribute("aria-invalid")) !== "true") throw new Error("phone not marked");
  await audit(page, `declared identity with an error (${lang})`);
  await page.locator("#phone_number").fill("06 12 34 56 78");
  await page.getByRole("button", { name: l.save }).click();
  await page.getByRole("heading", { name: l.account, level: 1 }).waitFor();
  await audit(page, `account (${lang})`);
}

async function email(page, l, lang) {
  await page.goto(`${issuer}/account/email${l.q}`);
  await page.getByRole("heading", { name: l.email, level: 1 }).waitFor();
  await audit(page, `email (${lang})`);
  await page.getByLabel(l.address, { exact: true }).fill(`camille.${lang}@example.org`);
  await page.getByRole("button", { name: l.send }).click();
  await page.getByLabel(l.code).waitFor();
  await audit(page, `email code (${lang})`);
}

async function renewAfterConfirming(page, l, lang) {
  await page.goto(`${issuer}/account${l.q}`);
  await page.getByRole("button", { name: l.renew }).click();
  await page.getByRole("heading", { name: l.confirm, level: 1 }).waitFor();
  await audit(page, `passkey confirmation (${lang})`);
  await page.getByRole("button", { name: l.confirmButton }).click();
  await page.getByRole("heading", { name: l.renewed, level: 1 }).waitFor();
  if ((await page.locator("#recovery-codes li").count()) !== 8) throw new Error("eight new codes");
  await audit(page, `renewed codes (${lang})`);
}

try {
  const pages = {};
  for (const [lang, l] of [["fr", french], ["en", english]]) {
    step(`${lang}: sign up, declare an identity, give an email address`);
    const page = await person(browser);
    await page.goto(`${issuer}/signup`);
    await page.getByLabel("Prénom(s)").fill("Camille");
    await page.getByLabel("Nom de famille").fill("Martin");
    await page.getByRole("button", { name: "Créer mon compte avec une clé d’accès" }).click();
    await page.getByRole("heading", { name: "Votre compte est créé", level: 1 }).waitFor();
    await declare(page, l, lang);
    await email(page, l, lang);
    pages[lang] = page;
  }
  step("waiting for the clock");
  await lines.next();
  for (const [lang, l] of [["fr", french], ["en", english]]) {
    step(`${lang}: six minutes later, renewing the codes asks for the passkey first`);
    await renewAfterConfirming(pages[lang], l, lang);
  }
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.error(`[browser] FAILED: ${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await browser.close();
  process.exit();
}
