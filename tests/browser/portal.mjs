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
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const [issuer, authorize, application, formPost] = process.argv.slice(2);
if (!formPost) {
  console.error("usage: node portal.mjs <issuer> <authorize-url> <application-origin> <form-post-authorize-url>");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const step = (text) => console.log(`[portal] ${text}`);

async function audit(page, name) {
  const result = await page.evaluate(
    `${axeSource}; axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html).slice(0, 3) })))`,
  );
  if (result.length) throw new Error(`accessibility violations on ${name}: ${JSON.stringify(result, null, 2)}`);
  step(`axe: no WCAG 2.1 A/AA violation on ${name}`);
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
  console.error("[portal] overall deadline (90 s) passed");
  process.exit(1);
}, 90_000);

try {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, locale: "fr-FR" });
  const page = await context.newPage();
  // Generous: the runner may be busy (each step is one or two navigations).
  page.setDefaultTimeout(30_000);
  page.on("console", (m) => { if (m.type() === "error") console.error(`[page] ${m.text()}`); });
  page.on("response", (r) => { if (r.status() >= 400) console.error(`[page] ${r.request().method()} ${r.url()} → ${r.status()}`); });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  const arrived = async (path, heading) => {
    await page.waitForURL(`${application}${path}`);
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
  };

  step("sign up");
  await page.goto(`${issuer}/signup`);
  await page.getByLabel("Prénom(s)").fill("Élodie");
  await page.getByLabel("Nom de famille").fill("Dupont");
  await page.getByRole("button", { name: "Créer mon compte avec une clé d’accès" }).click();
  await page.getByRole("heading", { name: "Votre compte est créé", level: 1 }).waitFor();

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

  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.error(`[portal] FAILED: ${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await browser.close();
}
