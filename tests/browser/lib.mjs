// What the browser scripts share: Chromium's launch under an overall
// deadline, a person (browser context + CDP virtual authenticator), sign-up
// through the real pages, and the axe-core WCAG 2.1 A/AA audit.
//   CHROMIUM  browser binary (default /usr/bin/chromium)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
let axeSource = null;

// A logger whose lines name the script: `[browser] …`, `[sso] …`.
export const stepper = (tag) => (text) => console.log(`[${tag}] ${text}`);

// Runs `body(browser)` in a fresh headless Chromium; prints `{"ok":true,…}`
// with what it returns, or FAILED and a non-zero exit code. `deadline` is in
// seconds (the Rust side's own limit is 100 s per script).
export async function run(tag, body, { deadline = 90 } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    timeout: 30_000,
  });
  const timer = setTimeout(() => {
    console.error(`[${tag}] overall deadline (${deadline} s) passed`);
    process.exit(1);
  }, deadline * 1000);
  try {
    const result = await body(browser);
    console.log(JSON.stringify({ ok: true, ...result }));
  } catch (error) {
    console.error(`[${tag}] FAILED: ${error && error.stack ? error.stack : error}`);
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}

// A person at their own browser (own cookies), phone-sized, in `locale`, with
// a user-verifying platform authenticator; failed responses are logged.
export async function person(browser, locale = "fr-FR") {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => { if (m.type() === "error") console.error(`[page] ${m.text()}`); });
  page.on("response", async (r) => {
    if (r.status() >= 400) console.error(`[page] ${r.request().method()} ${r.url()} → ${r.status()} ${await r.text().catch(() => "")}`);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp, authenticatorId };
}

// The sign-up page's words, per language.
const SIGN_UP = {
  fr: { given: "Prénom(s)", family: "Nom de famille", button: "Créer mon compte avec une clé d’accès", done: "Votre compte est créé", account: "Mon compte", next: /continuer/ },
  en: { given: "Given name(s)", family: "Family name", button: "Create my account with a passkey", done: "Your account is ready", account: "My account", next: /continue/ },
};

// Signs up at `issuer` and follows on to the account page. With `audited`,
// audits the identifier page on the way (it is shown once).
export async function signUp(page, issuer, given, family, { lang = "fr", audited = false } = {}) {
  const words = SIGN_UP[lang];
  await page.goto(`${issuer}/signup`);
  await page.getByLabel(words.given).fill(given);
  await page.getByLabel(words.family).fill(family);
  await page.getByRole("button", { name: words.button }).click();
  await page.getByRole("heading", { name: words.done, level: 1 }).waitFor();
  if (audited) await audit(page, `identifier (${lang})`);
  await page.getByRole("link", { name: words.next }).click();
  await page.getByRole("heading", { name: words.account, level: 1 }).waitFor();
}

// axe-core over the whole page (run through CDP, so the page's strict CSP
// does not apply to it); throws with the violations found.
export async function audit(page, name) {
  if (axeSource === null) axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  const result = await page.evaluate(
    `${axeSource}; axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html).slice(0, 3) })))`,
  );
  if (result.length) throw new Error(`accessibility violations on ${name}: ${JSON.stringify(result, null, 2)}`);
  console.log(`[axe] no WCAG 2.1 A/AA violation on ${name}`);
}

// page.waitForFunction evaluates strings in the page, which the CSP forbids.
export async function until(page, predicate, what) {
  for (let i = 0; i < 100; i += 1) {
    if (await page.evaluate(predicate)) return;
    await page.waitForTimeout(100);
  }
  const where = await page.evaluate(() => (document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "none"));
  throw new Error(`timed out waiting for ${what} (focus on ${where})`);
}
