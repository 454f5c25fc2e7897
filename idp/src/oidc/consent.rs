//! The consent step of an authorization (OIDC Core §3.1.2.4): the citizen
//! sees which service asks for what, in plain words, and allows or refuses.
//! Consent is remembered per service and scope set, and audited.

use std::fmt::Write as _;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::authorize::{self, request::AuthorizationRequest};
use super::error::{ErrorCode, OAuthError};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::clients::{self, Client};
use crate::store::NewAuditEvent;
use crate::web::auth_session::AuthSession;
use crate::web::csrf;
use crate::web::html::{Page, esc, layout};
use crate::web::i18n::Lang;
use crate::web::respond::{self, PageError, html, see_other};

/// What each scope means for the citizen, as catalogue keys.
fn scope_key(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "consent.scope.openid",
        "profile" => "consent.scope.profile",
        "email" => "consent.scope.email",
        "phone" => "consent.scope.phone",
        "address" => "consent.scope.address",
        "offline_access" => "consent.scope.offline_access",
        "citizen_identifier" => "consent.scope.citizen_identifier",
        _ => return None,
    })
}

async fn load(
    state: &AppState,
    session: &Session,
    id: &str,
    lang: Lang,
) -> Result<(AuthorizationRequest, Client, AuthSession), Response> {
    let expired = || PageError::new(StatusCode::BAD_REQUEST, lang, "authz.expired", "/account").into_response();
    let request = authorize::pending(state, session, id).await.ok_or_else(expired)?;
    let auth = AuthSession::current(session, &state.db, state.clock.now())
        .await
        .map_err(|e| PageError::internal(lang, &e).into_response())?;
    let Some(auth) = auth else {
        // Signed out meanwhile: the request resumes through sign-in.
        return Err(see_other(&format!("/authorize/continue/{id}")));
    };
    let client = clients::find(&state.db, &request.client_id)
        .await
        .map_err(|e| PageError::internal(lang, &e).into_response())?
        .ok_or_else(expired)?;
    Ok((request, client, auth))
}

/// `GET /authorize/consent/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = respond::lang(&session, &headers, None).await;
    let (request, client, _) = match load(&state, &session, &id, lang).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let token = match csrf::token(&session).await {
        Ok(token) => token,
        Err(e) => return PageError::internal(lang, &e).into_response(),
    };
    let t = |key| lang.t(key);
    let mut items = String::new();
    for key in request.scope.iter().filter_map(scope_key) {
        let _ = write!(items, "<li>{}</li>", esc(t(key)));
    }
    let name = client.display_name(lang);
    let organisation = match &client.organisation_id {
        Some(id) => match state.db.organisation(id).await {
            Ok(found) => found.map(|o| o.name),
            Err(e) => return PageError::internal(lang, &e).into_response(),
        },
        None => None,
    };
    let mut body = String::new();
    // Decorative: the name is written next to it. No referrer leaves with the request.
    if let Some(logo) = &client.metadata.logo_uri {
        let _ = write!(body, r#"<img class="service-logo" src="{}" alt="" referrerpolicy="no-referrer">"#, esc(logo));
    }
    let _ = write!(
        body,
        "<p>{intro}</p>",
        intro = esc(t("consent.intro")).replace("{service}", &format!("<strong>{}</strong>", esc(name)))
    );
    if let Some(organisation) = organisation {
        let _ = write!(body, "<p>{}</p>", esc(&t("consent.organisation").replace("{organisation}", &organisation)));
    }
    let mut links = String::new();
    for (uri, key) in [(&client.metadata.policy_uri, "consent.policy"), (&client.metadata.tos_uri, "consent.tos")] {
        if let Some(uri) = uri {
            let _ = write!(
                links,
                r#"<li><a href="{}" rel="noreferrer" target="_blank">{}</a></li>"#,
                esc(uri),
                esc(t(key))
            );
        }
    }
    if !links.is_empty() {
        links = format!("<ul>{links}</ul>");
    }
    let _ = write!(
        body,
        r#"<ul>{items}</ul>
<p>{remember}</p>{links}
<form method="post" action="/authorize/consent/{id}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" name="decision" value="allow">{allow}</button>
<button type="submit" name="decision" value="deny" class="secondary">{deny}</button>
</form>"#,
        remember = esc(t("consent.remember")),
        id = esc(&id),
        csrf = esc(&token),
        allow = esc(t("consent.allow")),
        deny = esc(t("consent.deny")),
    );
    let path = format!("/authorize/consent/{id}");
    let mut response = html(
        StatusCode::OK,
        layout(&Page { lang, title: t("consent.title"), body, csrf: &token, signed_in: true, path: &path }),
    );
    // Either answer ends at the service: its origin must be a form target.
    let mut policy = crate::web::csp_allowing_form_to(&request.redirect_uri);
    if let Some(logo) = &client.metadata.logo_uri {
        policy = crate::web::csp_allowing_image_from(&policy, logo);
    }
    crate::web::set_csp(&mut response, &policy);
    response
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    csrf: Option<String>,
    decision: Option<String>,
}

/// `POST /authorize/consent/{id}`.
pub async fn decide(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Decision>,
) -> Response {
    let lang = respond::lang(&session, &headers, None).await;
    if csrf::verify(&session, form.csrf.as_deref()).await.is_err() {
        return PageError::new(StatusCode::FORBIDDEN, lang, "err.csrf", "/account").into_response();
    }
    let (request, client, auth) = match load(&state, &session, &id, lang).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    match form.decision.as_deref() {
        Some("allow") => {}
        Some("deny") => {
            let _ = state.cache.delete(&crate::endings::cache_keys::pending_authorization(&id)).await;
            let error = OAuthError::new(ErrorCode::AccessDenied, "the citizen refused");
            return request.target().error(&state.config.issuer, &error);
        }
        _ => return PageError::new(StatusCode::BAD_REQUEST, lang, "authz.expired", "/account").into_response(),
    }
    let now = state.clock.now();
    let scope = match state.db.consent(&auth.citizen_id, &client.client_id).await {
        Ok(existing) => existing.unwrap_or_default().union(&request.scope),
        Err(e) => return PageError::internal(lang, &e).into_response(),
    };
    let granted = AuditEvent::ConsentGranted {
        client_id: client.client_id.clone(),
        client_name: client.client_name.clone(),
        scope: request.scope.as_list().to_vec(),
    };
    let event = NewAuditEvent::new(&auth.citizen_id, granted, now);
    if let Err(e) = state.db.grant_consent(&auth.citizen_id, &client.client_id, &scope, &event).await {
        return PageError::internal(lang, &e).into_response();
    }
    let request = AuthorizationRequest { consented: true, ..request };
    if let Err(e) = authorize::save_pending(&state, &session, Some(&id), &request).await {
        return e.into_response();
    }
    see_other(&format!("/authorize/continue/{id}"))
}

#[cfg(test)]
mod tests {
    use super::scope_key;
    use crate::web::i18n::Lang;

    #[test]
    fn every_offered_scope_is_explained_in_both_languages() {
        for scope in crate::clients::KNOWN_SCOPES {
            let key = scope_key(scope).unwrap_or_else(|| panic!("{scope} has no explanation"));
            for lang in [Lang::Fr, Lang::En] {
                assert_ne!(lang.t(key), key, "{scope} in {lang:?}");
            }
        }
    }
}
