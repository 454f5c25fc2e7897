//! The counter's pages: the citizen's code for the counter, an invitation
//! to join an organisation, and the agent's desk and citizen record.

use std::fmt::Write as _;

use super::{Frame, page};
use crate::clients::Organisation;
use crate::web::html::{self, Field, esc, field, when};

/// A QR code of `data` as an SVG element (no document wrapper), for pages.
pub fn qr_svg(data: &str) -> Option<String> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
    svg.find("<svg").map(|start| svg[start..].to_owned())
}

/// Something handed over once (a code, a link) with its QR code and expiry.
struct HandedOver<'a> {
    title_key: &'static str,
    intro_key: &'static str,
    /// Markup of what is handed over.
    shown: String,
    expires_at: i64,
    qr_label_key: &'static str,
    qr_svg: &'a str,
    back: (&'static str, &'static str),
}

fn handed_over(frame: &Frame<'_>, h: &HandedOver<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let body = format!(
        r#"<p>{intro}</p>
{shown}
<p>{expires} {until}</p>
<figure class="qr" role="img" aria-label="{qr_label}">{qr}</figure>
<p><a href="{back_href}">{back}</a></p>"#,
        intro = esc(t(h.intro_key)),
        shown = h.shown,
        expires = esc(t("counter_code.expires")),
        until = esc(&when(h.expires_at)),
        qr_label = esc(t(h.qr_label_key)),
        qr = h.qr_svg,
        back_href = h.back.0,
        back = esc(t(h.back.1)),
    );
    page(frame, h.title_key, body)
}

/// The citizen's code, shown once, with a QR code of the agent's link.
pub fn counter_code(frame: &Frame<'_>, code: &str, expires_at: i64, qr_svg: &str) -> String {
    handed_over(
        frame,
        &HandedOver {
            title_key: "counter_code.title",
            intro_key: "counter_code.intro",
            shown: format!(r#"<p class="identifier" id="counter-code">{}</p>"#, esc(code)),
            expires_at,
            qr_label_key: "counter_code.qr",
            qr_svg,
            back: ("/account", "counter_code.back"),
        },
    )
}

/// Join an organisation: what, for whom, and one button.
pub fn invitation(frame: &Frame<'_>, organisation: &str, role_key: &'static str, token: &str) -> String {
    let t = |k| frame.lang.t(k);
    let body = format!(
        r#"<p>{intro}</p>
<dl class="identity"><dt>{org_label}</dt><dd>{organisation}</dd><dt>{role_label}</dt><dd>{role}</dd></dl>
<form method="post" action="/invitation"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="token" value="{token}">
<button type="submit">{accept}</button></form>
<p><a href="/account">{later}</a></p>"#,
        intro = esc(t("invitation.intro")),
        org_label = esc(t("invitation.organisation")),
        organisation = esc(organisation),
        role_label = esc(t("invitation.role")),
        role = esc(t(role_key)),
        csrf = esc(frame.csrf),
        token = esc(token),
        accept = esc(t("invitation.accept")),
        later = esc(t("invitation.later")),
    );
    page(frame, "invitation.title", body)
}

/// Which of their organisations the agent acts for.
fn organisation_select(frame: &Frame<'_>, organisations: &[Organisation]) -> String {
    let mut options = String::new();
    for o in organisations {
        let _ = write!(options, r#"<option value="{}">{}</option>"#, esc(&o.organisation_id), esc(&o.name));
    }
    format!(
        r#"<div class="field"><label for="organisation">{}</label><select id="organisation" name="organisation">{options}</select></div>"#,
        esc(frame.lang.t("desk.organisation"))
    )
}

/// The agent's desk: for which organisation, and the citizen's code.
pub fn desk(frame: &Frame<'_>, organisations: &[Organisation], code: &str, error: Option<&str>) -> String {
    let t = |k| frame.lang.t(k);
    let code_field = field(&Field {
        id: "code",
        label: t("desk.code"),
        hint: Some(t("desk.code_hint")),
        kind: "text",
        autocomplete: "off",
        required: true,
        value: code,
        max_length: 20,
        error,
    });
    let body = format!(
        r#"<p>{intro}</p>
<form method="post" action="/guichet/open" novalidate><input type="hidden" name="csrf" value="{csrf}">
{select}
{code_field}
<button type="submit">{open}</button></form>
<p><a href="/guichet/recovery">{recovery}</a></p>"#,
        intro = esc(t("desk.intro")),
        csrf = esc(frame.csrf),
        select = organisation_select(frame, organisations),
        open = esc(t("desk.open")),
        recovery = esc(t("desk_recovery.link")),
    );
    page(frame, "desk.title", body)
}

/// What the agent typed, kept to show the form again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseForm {
    pub document_type: String,
    pub document_number: String,
    pub document_issuer: String,
    pub document_expires: String,
    pub mrz: String,
    pub given_name: String,
    pub family_name: String,
    pub birthdate: String,
    pub gender: String,
    pub birthcountry: String,
    pub birthplace: String,
}

/// Given names and family name.
pub type Names<'a> = (&'a str, &'a str);

/// The open record: who the citizen says they are, and the check form.
pub struct CaseView<'a> {
    pub identifier: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub level_key: &'static str,
    pub form: &'a CaseForm,
    /// Form field → message, for each problem.
    pub problems: &'a [(&'static str, &'a str)],
    /// A refusal about the whole form (document taken, MRZ unreadable…).
    pub alert: Option<&'a str>,
    /// Declared and document names, when they differ.
    pub names_differ: Option<(Names<'a>, Names<'a>)>,
}

pub fn case(frame: &Frame<'_>, view: &CaseView<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let mut body = String::new();
    if !view.problems.is_empty() {
        body.push_str(&html::notice(t("case.problems"), true));
    }
    if let Some(alert) = view.alert {
        body.push_str(&html::notice(alert, true));
    }
    let _ = write!(
        body,
        r#"<h2>{declared}</h2>
<dl class="identity"><dt>{identifier_label}</dt><dd class="identifier-inline">{identifier}</dd>
<dt>{given_label}</dt><dd>{given}</dd><dt>{family_label}</dt><dd>{family}</dd>
<dt>{level_label}</dt><dd>{level}</dd></dl>"#,
        declared = esc(t("case.declared")),
        identifier_label = esc(t("case.identifier")),
        identifier = esc(view.identifier),
        given_label = esc(t("case.given_name")),
        given = esc(view.given_name),
        family_label = esc(t("case.family_name")),
        family = esc(view.family_name),
        level_label = esc(t("case.level")),
        level = esc(t(view.level_key)),
    );
    let mut names = String::new();
    if let Some(((declared_given, declared_family), (document_given, document_family))) = view.names_differ {
        let _ = write!(
            names,
            r#"<div class="notice error" role="alert"><p>{intro}</p>
<table><thead><tr><th scope="col"></th><th scope="col">{given_label}</th><th scope="col">{family_label}</th></tr></thead>
<tbody><tr><th scope="row">{declared}</th><td>{dg}</td><td>{df}</td></tr>
<tr><th scope="row">{document}</th><td>{ng}</td><td>{nf}</td></tr></tbody></table>
<p><label><input type="checkbox" name="correct_names" value="yes"> {confirm}</label></p></div>"#,
            intro = esc(t("case.names_differ")),
            given_label = esc(t("case.given_name")),
            family_label = esc(t("case.family_name")),
            declared = esc(t("case.declared_names")),
            document = esc(t("case.document_names")),
            dg = esc(declared_given),
            df = esc(declared_family),
            ng = esc(document_given),
            nf = esc(document_family),
            confirm = esc(t("case.correct_names")),
        );
    }
    body.push_str(&document_form(frame, "/guichet/case/verify", "", &names, view.form, view.problems, "case.verify"));
    let _ = write!(
        body,
        r#"<form method="post" action="/guichet/case/close"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{close}</button></form>"#,
        csrf = esc(frame.csrf),
        close = esc(t("case.close")),
    );
    page(frame, "case.title", body)
}

/// The document and the identity it shows, as one form posted to `action`;
/// `before` is markup placed before the document (fields of the page's own),
/// `names` before the identity (the names comparison).
fn document_form(
    frame: &Frame<'_>,
    action: &str,
    before: &str,
    names: &str,
    f: &CaseForm,
    problems: &[(&'static str, &str)],
    submit_key: &'static str,
) -> String {
    let t = |k| frame.lang.t(k);
    let problem = |id: &str| problems.iter().find(|(field, _)| *field == id).map(|(_, m)| *m);
    let input = |id: &'static str, label_key: &'static str, value: &str, max: usize, required: bool| {
        field(&Field {
            id,
            label: t(label_key),
            hint: None,
            kind: "text",
            autocomplete: "off",
            required,
            value,
            max_length: max,
            error: problem(id),
        })
    };
    let mut options = String::new();
    for (value, key) in
        [("idcard", "doc.idcard"), ("passport", "doc.passport"), ("residence_permit", "doc.residence_permit")]
    {
        let selected = if f.document_type == value { " selected" } else { "" };
        let _ = write!(options, r#"<option value="{value}"{selected}>{}</option>"#, esc(t(key)));
    }
    let mut genders = String::new();
    for (value, key) in [("female", "gender.female"), ("male", "gender.male")] {
        let checked = if f.gender == value { " checked" } else { "" };
        let _ = write!(
            genders,
            r#"<label><input type="radio" name="gender" value="{value}"{checked}> {}</label> "#,
            esc(t(key))
        );
    }
    let gender_error = problem("gender")
        .map_or_else(String::new, |m| format!(r#"<p class="field-error" id="gender-error">{}</p>"#, esc(m)));
    let mrz_error = problem("mrz");
    format!(
        r#"<form method="post" action="{action}" novalidate><input type="hidden" name="csrf" value="{csrf}">
{before}<h2>{document}</h2>
<div class="field"><label for="document_type">{type_label}</label><select id="document_type" name="document_type">{options}</select></div>
<div class="field"><label for="mrz">{mrz_label}</label><p class="hint" id="mrz-hint">{mrz_hint}</p><textarea id="mrz" name="mrz" rows="3" cols="46" spellcheck="false" autocomplete="off" aria-describedby="mrz-hint mrz-error"{mrz_invalid}>{mrz}</textarea><p class="field-error" id="mrz-error"{mrz_hidden}>{mrz_error}</p></div>
{number}{issuer}{expires}
<h2>{identity}</h2>
{names}{given}{family}{birthdate}
<fieldset aria-describedby="gender-error"><legend>{gender_label}</legend>{genders}{gender_error}</fieldset>
{birthcountry}{birthplace}
<button type="submit">{submit}</button></form>"#,
        action = esc(action),
        csrf = esc(frame.csrf),
        document = esc(t("case.document")),
        type_label = esc(t("case.document_type")),
        mrz_label = esc(t("case.mrz")),
        mrz_hint = esc(t("case.mrz_hint")),
        mrz = esc(&f.mrz),
        mrz_invalid = if mrz_error.is_some() { r#" aria-invalid="true""# } else { "" },
        mrz_hidden = if mrz_error.is_some() { "" } else { " hidden" },
        mrz_error = esc(mrz_error.unwrap_or_default()),
        number = input("document_number", "case.document_number", &f.document_number, 30, true),
        issuer = input("document_issuer", "case.document_issuer", &f.document_issuer, 3, true),
        expires = input("document_expires", "case.document_expires", &f.document_expires, 10, true),
        identity = esc(t("case.identity")),
        given = input("given_name", "case.given_name", &f.given_name, 100, true),
        family = input("family_name", "case.family_name", &f.family_name, 100, true),
        birthdate = input("birthdate", "case.birthdate", &f.birthdate, 10, true),
        gender_label = esc(t("case.gender")),
        birthcountry = input("birthcountry", "case.birthcountry", &f.birthcountry, 5, true),
        birthplace = input("birthplace", "case.birthplace", &f.birthplace, 5, false),
        submit = esc(t(submit_key)),
    )
}

/// Assisted recovery, the agent's side: the citizen's identifier and the
/// document, checked against the verified identity on record.
pub fn recovery(
    frame: &Frame<'_>,
    organisations: &[Organisation],
    identifier: &str,
    form: &CaseForm,
    problems: &[(&'static str, &str)],
    alert: Option<&str>,
) -> String {
    let t = |k| frame.lang.t(k);
    let mut body = String::new();
    if !problems.is_empty() {
        body.push_str(&html::notice(t("case.problems"), true));
    }
    if let Some(alert) = alert {
        body.push_str(&html::notice(alert, true));
    }
    let _ = write!(body, "<p>{}</p>", esc(t("desk_recovery.intro")));
    let before = format!(
        r#"{select}{identifier}"#,
        select = organisation_select(frame, organisations),
        identifier = field(&Field {
            id: "identifier",
            label: t("case.identifier"),
            hint: None,
            kind: "text",
            autocomplete: "off",
            required: true,
            value: identifier,
            max_length: 40,
            error: problems.iter().find(|(f, _)| *f == "identifier").map(|(_, m)| *m),
        }),
    );
    body.push_str(&document_form(frame, "/guichet/recovery", &before, "", form, problems, "desk_recovery.submit"));
    page(frame, "desk_recovery.title", body)
}

/// The enrolment link to hand over, once, with its QR code.
pub fn enrolment(frame: &Frame<'_>, link: &str, expires_at: i64, qr_svg: &str) -> String {
    handed_over(
        frame,
        &HandedOver {
            title_key: "desk_recovery.link_title",
            intro_key: "desk_recovery.link_intro",
            shown: format!(r#"<p><code id="enrolment-link">{}</code></p>"#, esc(link)),
            expires_at,
            qr_label_key: "desk_recovery.qr",
            qr_svg,
            back: ("/guichet", "verified.next"),
        },
    )
}

/// Done: the identity is recorded; on to the next citizen.
pub fn verified(frame: &Frame<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let body = format!(
        r#"<p class="notice" role="status">{intro}</p><p><a href="/guichet">{next}</a></p>"#,
        intro = esc(t("verified.intro")),
        next = esc(t("verified.next")),
    );
    page(frame, "verified.title", body)
}
