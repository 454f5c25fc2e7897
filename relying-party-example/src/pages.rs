//! The service's two pages, in French with English alongside.

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#x27;")
}

fn layout(body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Service territorial — exemple</title></head><body><main><h1>Service territorial (exemple)</h1>{body}</main></body></html>"#
    )
}

pub fn home(session: Option<&crate::LocalSession>) -> String {
    match session {
        None => layout(
            r#"<p>Vous n’êtes pas connecté(e). <span lang="en">You are not signed in.</span></p>
<p><a href="/login">Se connecter avec Sésame</a></p>"#,
        ),
        Some(s) => {
            let claims = serde_json::to_string_pretty(&s.userinfo).unwrap_or_default();
            layout(&format!(
                r#"<p>Connecté(e) avec Sésame. <span lang="en">Signed in with Sésame.</span></p>
<dl><dt>sub (identifiant pour ce service / identifier for this service)</dt><dd id="sub">{sub}</dd>
<dt>acr</dt><dd id="acr">{acr}</dd></dl>
<h2>UserInfo</h2><pre id="userinfo">{claims}</pre>
<form method="post" action="/refresh"><button type="submit">Rafraîchir les jetons / Refresh tokens</button></form>
<form method="post" action="/logout"><button type="submit">Se déconnecter / Sign out</button></form>"#,
                sub = esc(&s.sub),
                acr = esc(s.acr.as_deref().unwrap_or("-")),
                claims = esc(&claims),
            ))
        }
    }
}

pub fn error(message: &str) -> String {
    layout(&format!(r#"<p role="alert">{}</p><p><a href="/">Retour / Back</a></p>"#, esc(message)))
}
