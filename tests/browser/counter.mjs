// The counter through Sésame's real pages in headless Chromium: an agent
// (invited by link) and a citizen, each in their own browser context with a
// CDP virtual authenticator. The citizen shows a code for the counter; the
// agent opens the record, types the document's machine-readable zone and
// records the verified identity; then an assisted recovery, the agent's
// link opened by the citizen in another browser. Every page is audited with axe-core (WCAG
// 2.1 A/AA), in French and in English.
//
// usage: node counter.mjs <issuer-url> <invitation-link> <mrz> <birthplace>
//   CHROMIUM            browser binary (default /usr/bin/chromium)
import { audit, person, run, signUp, stepper } from "./lib.mjs";

const [issuer, invitation, mrz, birthplace] = process.argv.slice(2);
if (!birthplace) {
  console.error("usage: node counter.mjs <issuer-url> <invitation-link> <mrz> <birthplace>");
  process.exit(2);
}
const step = stepper("browser");

await run("browser", async (browser) => {
  step("the agent signs up and accepts the invitation");
  const { page: agent } = await person(browser, "fr-FR");
  await signUp(agent, issuer, "Agnès", "Guichet");
  await agent.goto(invitation);
  await agent.getByRole("heading", { name: "Invitation", level: 1 }).waitFor();
  await audit(agent, "invitation");
  await agent.getByRole("button", { name: "Accepter l’invitation" }).click();
  await agent.getByRole("heading", { name: "Guichet : vérification d’identité", level: 1 }).waitFor();
  await audit(agent, "counter desk");

  step("the citizen signs up and shows a code for the counter");
  const { page: citizen } = await person(browser, "fr-FR");
  await signUp(citizen, issuer, "Élodie", "Dupont-Léger");
  await citizen.getByRole("button", { name: "Présenter mon compte au guichet" }).click();
  await citizen.getByRole("heading", { name: "Votre code pour le guichet", level: 1 }).waitFor();
  await audit(citizen, "counter code");
  const code = (await citizen.locator("#counter-code").textContent()).trim();
  if (!/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code)) throw new Error(`code ${code}`);
  if ((await citizen.locator("figure.qr svg").count()) !== 1) throw new Error("no QR code");

  step("the agent opens the record: a wrong code first, named on its field");
  await agent.getByLabel("Code montré par le citoyen").fill("0000-0000");
  await agent.getByRole("button", { name: "Ouvrir le dossier" }).click();
  const codeField = agent.getByLabel("Code montré par le citoyen");
  if ((await codeField.getAttribute("aria-invalid")) !== "true") throw new Error("wrong code not marked");
  await audit(agent, "counter desk with an error");
  await codeField.fill(code);
  await agent.getByRole("button", { name: "Ouvrir le dossier" }).click();
  await agent.getByRole("heading", { name: "Dossier du citoyen", level: 1 }).waitFor();
  await audit(agent, "citizen record");

  step("the agent types the zone; the declared names are the same name");
  await agent.getByLabel("Bande de lecture automatique (MRZ), facultatif").fill(mrz);
  await agent.getByLabel("Commune de naissance (code INSEE, pour une naissance en France)").fill(birthplace);
  await agent.getByRole("button", { name: "Enregistrer l’identité vérifiée" }).click();
  await agent.getByRole("heading", { name: "Identité vérifiée", level: 1 }).waitFor();
  await audit(agent, "identity verified");

  step("the assisted recovery form");
  await agent.goto(`${issuer}/guichet/recovery`);
  await agent.getByRole("heading", { name: "Récupération assistée d’un compte", level: 1 }).waitFor();
  await audit(agent, "assisted recovery (agent)");

  step("assisted recovery: the agent checks the document, the citizen enrols a new passkey");
  const identifier = (await (async () => {
    await citizen.goto(`${issuer}/account`);
    return citizen.locator("#citizen-identifier").textContent();
  })()).trim();
  await agent.getByLabel("Identifiant citoyen").fill(identifier);
  await agent.getByLabel("Bande de lecture automatique (MRZ), facultatif").fill(mrz);
  await agent.getByLabel("Commune de naissance (code INSEE, pour une naissance en France)").fill(birthplace);
  await agent.getByRole("button", { name: "Contrôler la pièce et créer le lien" }).click();
  await agent.getByRole("heading", { name: "Lien pour une nouvelle clé d’accès", level: 1 }).waitFor();
  await audit(agent, "enrolment link");
  const enrolment = (await agent.locator("#enrolment-link").textContent()).trim();
  const { page: lost } = await person(browser, "fr-FR");
  await lost.goto(enrolment);
  await lost.getByRole("heading", { name: "Récupérer mon compte après le guichet", level: 1 }).waitFor();
  await audit(lost, "assisted recovery (citizen)");
  await lost.getByRole("button", { name: /clé d’accès/ }).click();
  await lost.getByRole("heading", { name: "Votre compte est récupéré", level: 1 }).waitFor();
  await audit(lost, "account recovered, new codes");

  step("in English too");
  await agent.goto(`${issuer}/guichet?ui_locales=en`);
  await agent.getByRole("heading", { name: "Counter: identity check", level: 1 }).waitFor();
  await audit(agent, "counter desk (en)");
  await lost.goto(`${issuer}/account?ui_locales=en`);
  await lost.getByRole("heading", { name: "My account", level: 1 }).waitFor();
  await audit(lost, "account (en)");
  await lost.getByRole("button", { name: "Show my account at the counter" }).click();
  await lost.getByRole("heading", { name: "Your code for the counter", level: 1 }).waitFor();
  await audit(lost, "counter code (en)");

  return { code };
});
