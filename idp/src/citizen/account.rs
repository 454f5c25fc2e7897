//! `/account`: the citizen's identity, passkeys (add, rename, remove — never
//! the last one), recovery codes left, and active sessions (sign out the
//! others). Plain forms with a CSRF field; each answers with a redirect
//! back to the page and a notice.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::citizen::{CitizenIdentifier, RecoveryCode, counter, recovery, transparency};
use crate::endings;
use crate::i18n::Lang;
use crate::login::AuthSession;
use crate::mail::{self, Notice};
use crate::store::{NewAuditEvent, PasskeyRemoval};
use crate::web::csrf;
use crate::web::extract::{CsrfForm, SignedIn, query_param};
use crate::web::pages::{self, AccountView, Frame, PasskeyView, SessionView};
use crate::web::respond::{PageError, html, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/passkeys/rename", post(rename_passkey))
        .route("/account/passkeys/remove", post(remove_passkey))
        .route("/account/sessions/revoke-others", post(revoke_other_sessions))
        .route("/account/counter-code", post(counter_code))
        .route("/account/services/revoke", post(revoke_consent))
        .route("/account/export", post(export))
        .route("/account/delete", post(delete_account))
        .route("/account/recovery-codes", post(renew_recovery_codes))
        .route("/account/notices", post(save_notices))
}

const PASSKEY_NAME_MAX: usize = 60;

/// A passkey name as typed: trimmed, 1 to 60 characters, no control
/// characters. Empty is allowed where a default name will be given.
pub fn passkey_name(input: &str, empty_ok: bool) -> Option<String> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let ok = (empty_ok || !name.is_empty())
        && name.chars().count() <= PASSKEY_NAME_MAX
        && !name.chars().any(char::is_control);
    ok.then_some(name)
}

/// Notices the page shows after a redirect: only these keys, never the
/// query's text.
fn notice(value: Option<&str>) -> Option<(&'static str, bool)> {
    Some(match value? {
        "passkey_added" => ("notice.passkey_added", false),
        "passkey_renamed" => ("notice.passkey_renamed", false),
        "passkey_removed" => ("notice.passkey_removed", false),
        "sessions_ended" => ("notice.sessions_ended", false),
        "recovered" => ("notice.recovered", false),
        "last_passkey" => ("notice.last_passkey", true),
        "name_required" => ("notice.name_required", true),
        "passkey_not_found" => ("notice.passkey_not_found", true),
        "consent_revoked" => ("notice.consent_revoked", false),
        "consent_not_found" => ("notice.consent_not_found", true),
        "delete_unconfirmed" => ("notice.delete_unconfirmed", true),
        "joined" => ("notice.joined", false),
        "email_verified" => ("notice.email_verified", false),
        "identity_saved" => ("notice.identity_saved", false),
        "notices_saved" => ("notice.notices_saved", false),
        _ => return None,
    })
}

async fn account_page(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = csrf::token(&session).await?;
    let now = state.clock.now();
    let Some(citizen) = state.db.citizen_by_id(&auth.citizen_id).await? else { return Ok(see_other("/signin")) };
    let passkeys = state.db.passkeys_of(&citizen.id).await?;
    let sessions = state.db.login_sessions_of(&citizen.id, now).await?;
    let codes_left = state.db.unused_recovery_codes(&citizen.id).await?;
    let attributes = state.db.attributes_of(&citizen.id).await?;
    let verifications = state.db.verifications_of(&citizen.id).await?;
    let quiet = state.db.mail_settings(&citizen.id).await?.is_some_and(|(_, quiet)| quiet);
    let events = state.db.audit_events_of(&citizen.id).await?;
    let services = transparency::connected_services(&state, &citizen.id, &events, lang).await?;
    let activity = transparency::activity(&events);
    let identifier =
        CitizenIdentifier::parse(&citizen.identifier).map_or(citizen.identifier.clone(), |i| i.to_string());
    let view = AccountView {
        given_name: &citizen.given_name,
        family_name: &citizen.family_name,
        email: citizen.email.as_deref(),
        email_verified: attributes.iter().any(|a| {
            a.name == "email" && a.verified_by.is_some() && citizen.email.as_deref() == Some(a.value.as_str())
        }),
        identifier: &identifier,
        acr: &auth.acr,
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyView {
                credential_id: &p.credential_id,
                name: &p.name,
                synced: p.backup_eligible,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
            })
            .collect(),
        recovery_codes_left: codes_left,
        optional_notices: !quiet,
        sessions: sessions
            .iter()
            .map(|s| SessionView { device: &s.device, created_at: s.created_at, current: s.sid == auth.sid })
            .collect(),
        notice: notice(query_param(query.as_deref(), "notice").as_deref()),
        attributes: &attributes,
        verifications: &verifications,
        services: &services,
        activity: &activity,
    };
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/account" };
    Ok(html(StatusCode::OK, pages::account(&frame, &view)))
}

async fn rename_passkey(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let credential_id = form.field("credential_id").unwrap_or_default();
    let Some(name) = form.field("name").and_then(|n| passkey_name(&n, false)) else {
        return Ok(see_other("/account?notice=name_required"));
    };
    let now = state.clock.now();
    let event =
        NewAuditEvent::new(&auth.citizen_id, AuditEvent::PasskeyRenamed { credential_id: credential_id.clone() }, now);
    Ok(match state.db.rename_passkey(&auth.citizen_id, &credential_id, &name, &event).await? {
        true => see_other("/account?notice=passkey_renamed"),
        false => see_other("/account?notice=passkey_not_found"),
    })
}

/// Sensitive changes (here, and replacing a verified email address) need a
/// user-verified passkey assertion within the last five minutes (ASVS V3.7.1): otherwise the confirmation page, which
/// carries the form and sends it again once the citizen has confirmed.
pub(crate) async fn confirm_first(
    state: &AppState,
    session: &Session,
    lang: Lang,
    auth: &AuthSession,
    action: &str,
    form: &CsrfForm,
) -> Result<Option<Response>, PageError> {
    if auth.is_fresh(session, state.clock.now()).await? {
        return Ok(None);
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(form.bytes()).into_owned().collect();
    let token = csrf::token(session).await?;
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/account" };
    Ok(Some(html(StatusCode::OK, pages::account::reauthenticate(&frame, action, &fields))))
}

async fn remove_passkey(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    if let Some(page) = confirm_first(&state, &session, lang, &auth, "/account/passkeys/remove", &form).await? {
        return Ok(page);
    }
    let credential_id = form.field("credential_id").unwrap_or_default();
    let now = state.clock.now();
    let notice = mail::notice(&state.db, &state.config, &auth.citizen_id, &Notice::PasskeyRemoved, now).await?;
    let event =
        NewAuditEvent::new(&auth.citizen_id, AuditEvent::PasskeyRemoved { credential_id: credential_id.clone() }, now)
            .with_mail(notice);
    Ok(match state.db.remove_passkey(&auth.citizen_id, &credential_id, &event).await? {
        PasskeyRemoval::Removed => see_other("/account?notice=passkey_removed"),
        PasskeyRemoval::LastOne => see_other("/account?notice=last_passkey"),
        PasskeyRemoval::NotFound => see_other("/account?notice=passkey_not_found"),
    })
}

async fn revoke_other_sessions(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
    _form: CsrfForm,
) -> Result<Response, PageError> {
    endings::other_logins_ended(&state, &auth.citizen_id, &auth.sid).await?;
    Ok(see_other("/account?notice=sessions_ended"))
}

/// `POST /account/counter-code`: a fresh code to show at a counter, with a
/// QR code of the agent's link (the agent's device opens `/guichet` with it).
async fn counter_code(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    _form: CsrfForm,
) -> Result<Response, PageError> {
    let shown = counter::issue(&state.cache, &auth.citizen_id, state.clock.now()).await?;
    let link = format!("{}/guichet?code={}", state.config.issuer, shown.code);
    let svg = pages::counter::qr_svg(&link).ok_or_else(|| PageError::internal(&"the link does not fit a QR code"))?;
    let token = csrf::token(&session).await?;
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/account" };
    Ok(html(StatusCode::OK, pages::counter::counter_code(&frame, &shown.code, shown.expires_at, &svg)))
}

/// `POST /account/services/revoke`: takes a service's consent back.
async fn revoke_consent(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    if let Some(page) = confirm_first(&state, &session, lang, &auth, "/account/services/revoke", &form).await? {
        return Ok(page);
    }
    let client_id = form.field("client_id").unwrap_or_default();
    Ok(match endings::consent_revoked(&state, &auth.citizen_id, &client_id).await? {
        true => see_other("/account?notice=consent_revoked"),
        false => see_other("/account?notice=consent_not_found"),
    })
}

/// `POST /account/recovery-codes`: a new set, shown once; the old one is void.
async fn renew_recovery_codes(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    if let Some(page) = confirm_first(&state, &session, lang, &auth, "/account/recovery-codes", &form).await? {
        return Ok(page);
    }
    let Some(codes) = recovery::renew(&state.db, &state.config, &auth.citizen_id, state.clock.now()).await? else {
        return Ok(see_other("/signin"));
    };
    let grouped: Vec<String> = codes.iter().map(RecoveryCode::grouped).collect();
    let token = csrf::token(&session).await?;
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/account" };
    Ok(html(StatusCode::OK, pages::account::recovery_codes(&frame, &grouped)))
}

/// `POST /account/notices`: the optional security notices on or off, and
/// the language of the citizen's mail (the page's).
async fn save_notices(
    State(state): State<AppState>,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let wanted = form.field("optional_notices").as_deref() == Some("yes");
    state.db.set_mail_settings(&auth.citizen_id, lang.code(), !wanted).await?;
    Ok(see_other("/account?notice=notices_saved"))
}

/// `POST /account/export`: everything stored about the citizen, as a JSON
/// download (a form with a CSRF token, like every action on this page).
async fn export(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
    _form: CsrfForm,
) -> Result<Response, PageError> {
    let Some(data) = transparency::export(&state, &auth.citizen_id).await? else { return Ok(see_other("/signin")) };
    let text = serde_json::to_string_pretty(&data).unwrap_or_default();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"sesame-my-data.json\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response())
}

/// `POST /account/delete` (with `confirm=yes`): erases the account, signs
/// this browser out and says so.
async fn delete_account(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    if form.field("confirm").as_deref() != Some("yes") {
        return Ok(see_other("/account?notice=delete_unconfirmed"));
    }
    if let Some(page) = confirm_first(&state, &session, lang, &auth, "/account/delete", &form).await? {
        return Ok(page);
    }
    endings::account_deleted(&state, &auth.citizen_id).await?;
    session.flush().await?;
    Ok(html(StatusCode::OK, pages::transparency::account_deleted(lang)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_names_are_trimmed_and_bounded() {
        assert_eq!(passkey_name("  my   phone ", false).as_deref(), Some("my phone"));
        assert_eq!(passkey_name("", false), None);
        assert_eq!(passkey_name("", true).as_deref(), Some(""));
        assert_eq!(passkey_name(&"x".repeat(61), false), None);
        assert_eq!(passkey_name("a\u{7}b", false), None);
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert_eq!(notice(Some("passkey_added")), Some(("notice.passkey_added", false)));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
