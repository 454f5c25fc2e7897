//! `/account/identity`: the citizen declares or corrects their identity;
//! `/account/identity/communes?q=` names the communes the list offers.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_sessions::Session;

use crate::app::AppState;
use crate::citizen::cog;
use crate::citizen::declaration::{self, DeclarationForm, DeclareProblem};
use crate::citizen::identity::Identity;
use crate::citizen::verification::date_of;
use crate::i18n::Lang;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, SignedIn, query_param};
use crate::web::pages::{self, Frame, identity::IdentityView};
use crate::web::respond::{PageError, html, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/identity", get(identity_page).post(save))
        .route("/account/identity/communes", get(communes))
}

/// A commune as the list offers it: `Name (department)`.
fn commune_label(code: &str) -> String {
    cog::commune(code).map_or_else(|| code.to_owned(), |c| format!("{} ({})", c.name.unwrap_or(c.code), c.department))
}

/// The form as the identity stands.
fn current(identity: &Identity) -> DeclarationForm {
    let value = |n| identity.value(n).unwrap_or_default().to_owned();
    let birthdate = value("birthdate");
    let mut parts = birthdate.split('-');
    let (year, month, day) = (parts.next(), parts.next(), parts.next());
    let part = |p: Option<&str>| p.filter(|p| *p != "00").unwrap_or_default().to_owned();
    let address: serde_json::Value = serde_json::from_str(&value("address")).unwrap_or_default();
    let line = |k: &str| address.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    DeclarationForm {
        given_name: value("given_name"),
        family_name: value("family_name"),
        birth_day: part(day),
        birth_month: part(month),
        birth_year: part(year),
        gender: value("gender"),
        birthcountry: cog::country(&value("birthcountry")).map_or_else(|| value("birthcountry"), |c| c.name.to_owned()),
        birthplace: identity.value("birthplace").map(commune_label).unwrap_or_default(),
        street_address: line("street_address"),
        postal_code: line("postal_code"),
        locality: line("locality"),
        country: line("country"),
        phone_number: value("phone_number"),
    }
}

async fn render(
    state: &AppState,
    session: &Session,
    lang: Lang,
    identity: &Identity,
    form: &DeclarationForm,
    problems: &[DeclareProblem],
) -> Result<Response, PageError> {
    let token = csrf::token(session).await?;
    let verifications = state.db.verifications_of(&identity.citizen.id).await?;
    let verified_by = |name: &str| {
        if !identity.verified(name) {
            return None;
        }
        let by = identity.attributes.iter().find(|a| a.name == name)?.verified_by.as_deref()?;
        // A verification names its organisation; older rows name the verifier as text.
        Some(match verifications.iter().find(|v| v.verification_id == by) {
            Some(v) if v.kind == "email" => lang.t("email.status_verified").to_owned(),
            Some(v) => v.organisation_name.clone(),
            None => by.to_owned(),
        })
    };
    let view = IdentityView { form, verified_by: &verified_by, problems };
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/account/identity" };
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(html(status, pages::identity::identity(&frame, &view)))
}

async fn identity_page(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
) -> Result<Response, PageError> {
    let Some(identity) = Identity::load(&state.db, &auth.citizen_id).await? else { return Ok(see_other("/signin")) };
    render(&state, &session, lang, &identity, &current(&identity), &[]).await
}

async fn save(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let Some(identity) = Identity::load(&state.db, &auth.citizen_id).await? else { return Ok(see_other("/signin")) };
    let get = |name: &str| form.field(name).unwrap_or_default();
    let typed = DeclarationForm {
        given_name: get("given_name"),
        family_name: get("family_name"),
        birth_day: get("birth_day"),
        birth_month: get("birth_month"),
        birth_year: get("birth_year"),
        gender: get("gender"),
        birthcountry: get("birthcountry"),
        birthplace: get("birthplace"),
        street_address: get("street_address"),
        postal_code: get("postal_code"),
        locality: get("locality"),
        country: get("country"),
        phone_number: get("phone_number"),
    };
    let now = state.clock.now();
    match typed.check(&date_of(now)) {
        Ok(declared) => {
            if !declaration::declare(&state.db, &auth.citizen_id, &declared, now).await? {
                return Ok(see_other("/signin"));
            }
            Ok(see_other("/account?notice=identity_saved"))
        }
        Err(problems) => render(&state, &session, lang, &identity, &typed, &problems).await,
    }
}

/// Up to 10 communes whose name begins with `q`, as the list offers them.
async fn communes(RawQuery(query): RawQuery) -> Response {
    let typed = query_param(query.as_deref(), "q").unwrap_or_default();
    let found: Vec<serde_json::Value> = cog::communes_named(&typed, 10)
        .iter()
        .map(|c| serde_json::json!({"code": c.code, "label": commune_label(c.code)}))
        .collect();
    ([(header::CACHE_CONTROL, "public, max-age=86400")], axum::Json(found)).into_response()
}
