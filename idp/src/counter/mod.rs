//! The counter (« guichet », `/guichet`): an agent of an organisation opens
//! a citizen's record with the code the citizen shows, checks an identity
//! document (typed, or read from its machine-readable zone) and records the
//! identity it proves. HTTP edge only: the domain is `citizen::counter`,
//! `citizen::verification`, `citizen::mrz`, `clients::members`.
//!
//! Sequence: `GET /guichet` (desk) → `POST /guichet/open` (code taken,
//! record bound to this browser session and organisation for 30 minutes)
//! → `GET /guichet/case` → `POST /guichet/case/verify` (again, until the
//! identity is recorded) → the record closes.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::app::AppState;
use crate::citizen::assisted_recovery::{self, AssistedRecoveryError as E, RecoveryCheck};
use crate::citizen::identity::{Identity, Level, identity_level};
use crate::citizen::mrz::{self, MrzError, Sex};
use crate::citizen::verification::{
    Agent, CounterCheck, Document, DocumentIdentity, DocumentType, Problem, VerifyError, verify_at_counter,
};
use crate::citizen::{CitizenIdentifier, counter};
use crate::clients::Organisation;
use crate::clients::members::{self, Role};
use crate::i18n::Lang;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, SignedIn, query_param};
use crate::web::pages::Frame;
use crate::web::pages::counter::{self as pages, CaseForm, CaseView};
use crate::web::respond::{PageError, html, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/guichet", get(desk))
        .route("/guichet/open", post(open))
        .route("/guichet/case", get(show_case))
        .route("/guichet/case/verify", post(verify))
        .route("/guichet/case/close", post(close))
        .route("/guichet/recovery", get(recovery_page).post(recovery))
}

/// Session key of the record this browser has open.
const CASE_KEY: &str = "counter_case";
/// How long a record stays open without being closed.
const CASE_TTL: i64 = 1_800;
/// Codes one agent may try per rate-limit window (all replicas together).
const CODES_PER_WINDOW: u64 = 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenCase {
    citizen_id: String,
    organisation_id: String,
    opened_at: i64,
}

fn not_an_agent() -> PageError {
    PageError::new(StatusCode::FORBIDDEN, "err.not_agent", "/account")
}

/// The organisations the signed-in citizen is an agent of, read at every
/// request: a member removed loses access at once.
async fn agent_organisations(state: &AppState, citizen_id: &str) -> Result<Vec<Organisation>, PageError> {
    let organisations = members::organisations_where(&state.db, citizen_id, Role::Agent).await?;
    if organisations.is_empty() { Err(not_an_agent()) } else { Ok(organisations) }
}

async fn desk(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let organisations = agent_organisations(&state, &auth.citizen_id).await?;
    let token = csrf::token(&session).await?;
    let code = query_param(query.as_deref(), "code").unwrap_or_default();
    Ok(render_desk(lang, &token, &organisations, &code, None, StatusCode::OK))
}

fn render_desk(
    lang: Lang,
    token: &str,
    organisations: &[Organisation],
    code: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let frame = Frame { lang, csrf: token, signed_in: true, path: "/guichet" };
    html(status, pages::desk(&frame, organisations, code, error.map(|key| lang.t(key))))
}

/// The organisation a form says the agent acts for, if they are its agent;
/// with every organisation they are an agent of (to show the form again).
async fn acting_for(
    state: &AppState,
    agent_id: &str,
    form: &CsrfForm,
) -> Result<(Vec<Organisation>, Organisation), PageError> {
    let organisations = agent_organisations(state, agent_id).await?;
    let wanted = form.field("organisation").unwrap_or_default();
    let organisation = organisations.iter().find(|o| o.organisation_id == wanted).cloned().ok_or_else(not_an_agent)?;
    Ok((organisations, organisation))
}

/// Takes the citizen's code (once) and opens their record for this agent.
async fn open(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let (organisations, organisation) = acting_for(&state, &auth.citizen_id, &form).await?;
    let typed = form.field("code").unwrap_or_default();
    let token = csrf::token(&session).await?;
    if too_many_attempts(&state, &auth.citizen_id).await? {
        let too_many = StatusCode::TOO_MANY_REQUESTS;
        return Ok(render_desk(lang, &token, &organisations, &typed, Some("err.counter_too_many"), too_many));
    }
    let Some(citizen_id) = counter::redeem(&state.cache, &typed).await? else {
        let bad = StatusCode::BAD_REQUEST;
        return Ok(render_desk(lang, &token, &organisations, &typed, Some("err.counter_code"), bad));
    };
    let case =
        OpenCase { citizen_id, organisation_id: organisation.organisation_id.clone(), opened_at: state.clock.now() };
    session.insert(CASE_KEY, case).await?;
    Ok(see_other("/guichet/case"))
}

/// Codes and recovery checks one agent tries, counted together in the
/// shared windows: guessing codes or identifiers is slow from any replica.
async fn too_many_attempts(state: &AppState, agent_id: &str) -> Result<bool, PageError> {
    let key = format!("counter:agent:{}", crate::keys::sha256_b64(agent_id.as_bytes()));
    let hit = state.cache.count_hit(&key, state.config.rate_limits.window).await?;
    let refused = hit.count > CODES_PER_WINDOW;
    if refused {
        state.metrics.count_rate_limited("counter", "agent");
    }
    Ok(refused)
}

/// The record this browser has open, if still valid, for an agent who is
/// still an agent of its organisation.
async fn current_case(state: &AppState, session: &Session, agent_id: &str) -> Result<(OpenCase, Agent), PageError> {
    let case: Option<OpenCase> = session.get(CASE_KEY).await?;
    let no_case = || PageError::new(StatusCode::BAD_REQUEST, "err.no_case", "/guichet");
    let case = case.filter(|c| c.opened_at + CASE_TTL > state.clock.now()).ok_or_else(no_case)?;
    let organisations = agent_organisations(state, agent_id).await?;
    let organisation =
        organisations.into_iter().find(|o| o.organisation_id == case.organisation_id).ok_or_else(not_an_agent)?;
    Ok((case, Agent { citizen_id: agent_id.to_owned(), organisation }))
}

async fn show_case(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
) -> Result<Response, PageError> {
    let (case, _) = current_case(&state, &session, &auth.citizen_id).await?;
    let form = CaseForm {
        document_type: "idcard".into(),
        document_issuer: "FRA".into(),
        birthcountry: crate::citizen::identity::INSEE_FRANCE.into(),
        ..CaseForm::default()
    };
    render_case(&state, &session, lang, &case, &form, Refusal::None, StatusCode::OK).await
}

/// What to show again with the form.
enum Refusal<'a> {
    None,
    Problems(Vec<(&'static str, &'static str)>),
    Alert(&'static str),
    NamesDiffer { declared: (&'a str, &'a str), document: (&'a str, &'a str) },
}

async fn render_case(
    state: &AppState,
    session: &Session,
    lang: Lang,
    case: &OpenCase,
    form: &CaseForm,
    refusal: Refusal<'_>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let no_case = || PageError::new(StatusCode::BAD_REQUEST, "err.no_case", "/guichet");
    let identity = Identity::load(&state.db, &case.citizen_id).await?.ok_or_else(no_case)?;
    let token = csrf::token(session).await?;
    let identifier = CitizenIdentifier::parse(&identity.citizen.identifier)
        .map_or_else(|_| identity.citizen.identifier.clone(), |i| i.to_string());
    let problems: Vec<(&'static str, &str)> = match &refusal {
        Refusal::Problems(list) => list.iter().map(|(field, key)| (*field, lang.t(key))).collect(),
        _ => Vec::new(),
    };
    let view = CaseView {
        identifier: &identifier,
        given_name: &identity.citizen.given_name,
        family_name: &identity.citizen.family_name,
        level_key: match identity_level(&identity) {
            Level::Eidas1 => "account.level_eidas1",
            Level::Eidas2 | Level::Eidas3 => "account.level_eidas2",
        },
        form,
        problems: &problems,
        alert: match &refusal {
            Refusal::Alert(key) => Some(lang.t(key)),
            _ => None,
        },
        names_differ: match refusal {
            Refusal::NamesDiffer { declared, document } => Some((declared, document)),
            _ => None,
        },
    };
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/guichet/case" };
    Ok(html(status, pages::case(&frame, &view)))
}

fn form_of(form: &CsrfForm) -> CaseForm {
    let get = |name: &str| form.field(name).unwrap_or_default().trim().to_owned();
    CaseForm {
        document_type: get("document_type"),
        document_number: get("document_number"),
        document_issuer: get("document_issuer").to_ascii_uppercase(),
        document_expires: get("document_expires"),
        mrz: form.field("mrz").unwrap_or_default(),
        given_name: get("given_name"),
        family_name: get("family_name"),
        birthdate: get("birthdate"),
        gender: get("gender"),
        birthcountry: get("birthcountry"),
        birthplace: get("birthplace").to_ascii_uppercase(),
    }
}

/// Fills the fields the zone proves; what it does not hold (birthplace,
/// birth country, an old CNI's expiry) stays as typed.
fn apply_mrz(form: &mut CaseForm, zone: &mrz::Mrz) {
    form.document_type = zone.kind.as_str().into();
    form.document_number.clone_from(&zone.document_number);
    form.document_issuer = zone.issuing_state.replace('<', "");
    if let Some(expiry) = zone.expiry_date {
        form.document_expires = format!("{:04}-{:02}-{:02}", expiry.year(), u8::from(expiry.month()), expiry.day());
    }
    form.family_name.clone_from(&zone.family_name);
    form.given_name = zone.given_names.join(" ");
    form.birthdate.clone_from(&zone.birth_date);
    form.gender = match zone.sex {
        Sex::Female => "female".into(),
        Sex::Male => "male".into(),
        Sex::Other | Sex::Unspecified => String::new(),
    };
}

/// Reads the zone, when one was typed, into the form; the field and
/// message key of the problem otherwise.
fn read_zone(form: &mut CaseForm, now: i64) -> Result<(), (&'static str, &'static str)> {
    if form.mrz.trim().is_empty() {
        return Ok(());
    }
    let today = time::OffsetDateTime::from_unix_timestamp(now).map(|t| t.date()).unwrap_or(time::Date::MIN);
    let zone = mrz::parse(&form.mrz, today).map_err(|e| ("mrz", mrz_key(&e)))?;
    apply_mrz(form, &zone);
    Ok(())
}

/// The document as the form describes it; `None` for a type the page never offers.
fn document_of(form: &CaseForm) -> Option<Document> {
    Some(Document {
        kind: DocumentType::parse(&form.document_type)?,
        number: form.document_number.clone(),
        issuer: form.document_issuer.clone(),
        expires_on: form.document_expires.clone(),
    })
}

fn identity_of(form: &CaseForm) -> DocumentIdentity {
    DocumentIdentity {
        given_name: form.given_name.clone(),
        family_name: form.family_name.clone(),
        birthdate: form.birthdate.clone(),
        gender: form.gender.clone(),
        birthcountry: form.birthcountry.clone(),
        birthplace: Some(form.birthplace.clone()).filter(|p| !p.is_empty()),
    }
}

fn mrz_key(error: &MrzError) -> &'static str {
    match error {
        MrzError::CheckDigit { .. } => "mrz.check_digit",
        MrzError::Empty | MrzError::LineLengths { .. } | MrzError::UnknownFormat { .. } => "mrz.format",
        MrzError::BadCharacter { .. } | MrzError::BadSex(_) => "mrz.character",
        MrzError::UnsupportedDocument { .. } => "mrz.document",
        MrzError::BadDate { .. } => "mrz.date",
    }
}

fn problem_key(problem: Problem) -> &'static str {
    match problem {
        Problem::DocumentNumber => "problem.document_number",
        Problem::DocumentIssuer => "problem.document_issuer",
        Problem::DocumentExpiry => "problem.document_expiry",
        Problem::DocumentExpired => "problem.document_expired",
        Problem::GivenName => "problem.given_name",
        Problem::FamilyName => "problem.family_name",
        Problem::Birthdate => "problem.birthdate",
        Problem::BirthdateInFuture => "problem.birthdate_future",
        Problem::Gender => "problem.gender",
        Problem::BirthCountry => "problem.birthcountry",
        Problem::BirthplaceMissing => "problem.birthplace_missing",
        Problem::BirthplaceUnknown => "problem.birthplace_unknown",
        Problem::BirthplaceAbroad => "problem.birthplace_abroad",
    }
}

async fn verify(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    posted: CsrfForm,
) -> Result<Response, PageError> {
    let (case, agent) = current_case(&state, &session, &auth.citizen_id).await?;
    let mut form = form_of(&posted);
    let now = state.clock.now();
    let bad = StatusCode::BAD_REQUEST;
    if let Err(problem) = read_zone(&mut form, now) {
        let refusal = Refusal::Problems(vec![problem]);
        return render_case(&state, &session, lang, &case, &form, refusal, bad).await;
    }
    let Some(document) = document_of(&form) else {
        let refusal = Refusal::Problems(vec![("document_type", "problem.document_type")]);
        return render_case(&state, &session, lang, &case, &form, refusal, bad).await;
    };
    let check = CounterCheck {
        citizen_id: case.citizen_id.clone(),
        document,
        identity: identity_of(&form),
        correct_names: posted.field("correct_names").as_deref() == Some("yes"),
    };
    match verify_at_counter(&state.db, &state.keys, &agent, &check, now).await {
        Ok(_) => {
            session.remove::<OpenCase>(CASE_KEY).await?;
            let token = csrf::token(&session).await?;
            let frame = Frame { lang, csrf: &token, signed_in: true, path: "/guichet" };
            Ok(html(StatusCode::OK, pages::verified(&frame)))
        }
        Err(VerifyError::Invalid(problems)) => {
            let list = problems.iter().map(|p| (p.field(), problem_key(*p))).collect();
            render_case(&state, &session, lang, &case, &form, Refusal::Problems(list), bad).await
        }
        Err(VerifyError::NamesDiffer { declared, document }) => {
            let refusal =
                Refusal::NamesDiffer { declared: (&declared.0, &declared.1), document: (&document.0, &document.1) };
            render_case(&state, &session, lang, &case, &form, refusal, StatusCode::CONFLICT).await
        }
        Err(VerifyError::DocumentTaken) => {
            let refusal = Refusal::Alert("case.document_taken");
            render_case(&state, &session, lang, &case, &form, refusal, StatusCode::CONFLICT).await
        }
        Err(VerifyError::UnknownCitizen) => {
            session.remove::<OpenCase>(CASE_KEY).await?;
            Err(PageError::new(StatusCode::BAD_REQUEST, "err.no_case", "/guichet"))
        }
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}

async fn close(session: Session, SignedIn(_): SignedIn, _form: CsrfForm) -> Result<Response, PageError> {
    session.remove::<OpenCase>(CASE_KEY).await?;
    Ok(see_other("/guichet"))
}

async fn recovery_page(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
) -> Result<Response, PageError> {
    let organisations = agent_organisations(&state, &auth.citizen_id).await?;
    let form = CaseForm {
        document_type: "idcard".into(),
        document_issuer: "FRA".into(),
        birthcountry: crate::citizen::identity::INSEE_FRANCE.into(),
        ..CaseForm::default()
    };
    let token = csrf::token(&session).await?;
    Ok(render_recovery(lang, &token, &organisations, "", &form, &[], None, StatusCode::OK))
}

#[allow(clippy::too_many_arguments)]
fn render_recovery(
    lang: Lang,
    token: &str,
    organisations: &[Organisation],
    identifier: &str,
    form: &CaseForm,
    problems: &[(&'static str, &'static str)],
    alert: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let frame = Frame { lang, csrf: token, signed_in: true, path: "/guichet/recovery" };
    let problems: Vec<(&'static str, &str)> = problems.iter().map(|(field, key)| (*field, lang.t(key))).collect();
    html(status, pages::recovery(&frame, organisations, identifier, form, &problems, alert.map(|key| lang.t(key))))
}

/// Assisted recovery: the document checked against the verified identity
/// on record, then a single-use link (and its QR code) for a new passkey.
async fn recovery(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    posted: CsrfForm,
) -> Result<Response, PageError> {
    let (organisations, organisation) = acting_for(&state, &auth.citizen_id, &posted).await?;
    let identifier = posted.field("identifier").unwrap_or_default().trim().to_owned();
    let mut form = form_of(&posted);
    let token = csrf::token(&session).await?;
    let bad = StatusCode::BAD_REQUEST;
    let again = |form: &CaseForm, problems: &[(&'static str, &'static str)], alert, status| {
        render_recovery(lang, &token, &organisations, &identifier, form, problems, alert, status)
    };
    if too_many_attempts(&state, &auth.citizen_id).await? {
        return Ok(again(&form, &[], Some("err.counter_too_many"), StatusCode::TOO_MANY_REQUESTS));
    }
    let now = state.clock.now();
    if let Err(problem) = read_zone(&mut form, now) {
        return Ok(again(&form, &[problem], None, bad));
    }
    let Some(document) = document_of(&form) else {
        return Ok(again(&form, &[("document_type", "problem.document_type")], None, bad));
    };
    let check = RecoveryCheck { identifier: identifier.clone(), document, identity: identity_of(&form) };
    let agent = Agent { citizen_id: auth.citizen_id.clone(), organisation };
    match assisted_recovery::start(&state.db, &state.keys, &state.cache, &agent, &check, now).await {
        Ok(enrolment) => {
            let link = enrolment.link(&state.config.issuer);
            let svg = pages::qr_svg(&link).ok_or_else(|| PageError::internal(&"the link does not fit a QR code"))?;
            let frame = Frame { lang, csrf: &token, signed_in: true, path: "/guichet/recovery" };
            Ok(html(StatusCode::OK, pages::enrolment(&frame, &link, enrolment.expires_at, &svg)))
        }
        Err(E::InvalidIdentifier(_)) => Ok(again(&form, &[("identifier", "problem.identifier")], None, bad)),
        Err(E::Invalid(problems)) => {
            let list: Vec<_> = problems.iter().map(|p| (p.field(), problem_key(*p))).collect();
            Ok(again(&form, &list, None, bad))
        }
        Err(E::UnknownCitizen) => Ok(again(&form, &[], Some("desk_recovery.unknown"), bad)),
        Err(E::NeverVerified) => Ok(again(&form, &[], Some("desk_recovery.never_verified"), StatusCode::CONFLICT)),
        Err(E::IdentityMismatch) => Ok(again(&form, &[], Some("desk_recovery.mismatch"), StatusCode::CONFLICT)),
        Err(E::DocumentTaken) => Ok(again(&form, &[], Some("case.document_taken"), StatusCode::CONFLICT)),
        Err(other) => Err(other.into()),
    }
}
