// Every page a citizen or a developer meets, in French and in English, through
// the axe-core WCAG 2.1 A/AA audit in headless Chromium: sign-up, sign-in,
// recovery, the developers' guide (one page holding both), the error pages
// (not found, a refused authorization request, a form that expired), the
// identifier page, the account, consent, logout confirmation and signed-out. Each language is a person whose browser asks
// for it (Accept-Language); each page must say it is in that language.
//
// usage: node pages.mjs <issuer-url> <client-id> <redirect-uri>
//   CHROMIUM  browser binary (default /usr/bin/chromium)
import { audit, person, run, signUp, stepper } from "./lib.mjs";

const [issuer, clientId, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error("usage: node pages.mjs <issuer-url> <client-id> <redirect-uri>");
  process.exit(2);
}
const step = stepper("pages");

const LANGUAGES = {
  fr: { locale: "fr-FR", confirm: "Me déconnecter", signedOut: "Vous êtes déconnecté(e) de Sésame.", expired: "Cette page a expiré." },
  en: { locale: "en-GB", confirm: "Sign me out", signedOut: "You are signed out of Sésame.", expired: "This page has expired." },
};

function authorization() {
  const params = new URLSearchParams({
    response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: "openid profile email",
    state: "st", nonce: "n", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256",
  });
  return `${issuer}/authorize?${params}`;
}

await run("pages", async (browser) => {
  const audited = [];
  for (const [lang, words] of Object.entries(LANGUAGES)) {
    const { page } = await person(browser, words.locale);
    // The page on screen is in `lang` (a bilingual page: has a part marked
    // so); then its audit.
    const check = async (name, { bilingual = false } = {}) => {
      await page.locator("h1").first().waitFor();
      const shown = bilingual
        ? await page.locator(`section[lang="${lang}"]`).getAttribute("lang")
        : await page.evaluate(() => document.documentElement.lang);
      if (shown !== lang) throw new Error(`${name} is in ${JSON.stringify(shown)}, not ${lang}`);
      await audit(page, `${name} (${lang})`);
      audited.push(`${name} (${lang})`);
    };
    const visit = async (path, name, options) => {
      await page.goto(path.startsWith("http") ? path : `${issuer}${path}`);
      await check(name, options);
    };

    step(`signed out (${lang})`);
    await visit("/signup", "sign-up");
    await visit("/signin", "sign-in");
    await visit("/recover", "recovery");
    await visit("/developers", "developers", { bilingual: true }); // one page, both languages
    await visit("/no-such-page", "not found");
    await visit("/authorize?client_id=unknown&response_type=code", "authorization refused");

    step(`signed in (${lang})`);
    await signUp(page, issuer, "Élodie", "Dupont", { lang, audited: true });
    audited.push(`identifier (${lang})`);
    await check("account");
    await visit(authorization(), "consent");
    await visit("/logout", "logout confirmation");
    // A form whose token no longer matches (an old tab): the "page expired" error.
    await page.evaluate(() => { document.querySelector('form[action="/logout/confirm"] input[name="csrf"]').value = "stale"; });
    await page.getByRole("button", { name: words.confirm }).click();
    await page.getByText(words.expired).waitFor();
    await check("page expired");
    await visit("/logout", "logout confirmation (again)");
    await page.getByRole("button", { name: words.confirm }).click();
    await page.getByText(words.signedOut).waitFor();
    await check("signed out");
  }
  return { audited };
}, { deadline: 95 });
