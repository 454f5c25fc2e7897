//! `/account/identity`: the declared identity form. Each field says
//! whether its value is declared or verified (and that changing a verified
//! one makes it unverified); errors sit next to their field. The birth
//! country is chosen from a list by name; the commune by name through a
//! list the script fills as one types (`/account/identity/communes`), or by
//! its INSEE code without script.

use std::fmt::Write as _;

use super::{Frame, page};
use crate::citizen::cog;
use crate::citizen::declaration::{DeclarationForm, DeclareProblem};
use crate::web::html::{Field, esc, field};

/// The form's values and, per field, the verifier's name when verified.
pub struct IdentityView<'a> {
    pub form: &'a DeclarationForm,
    pub verified_by: &'a dyn Fn(&str) -> Option<String>,
    pub problems: &'a [DeclareProblem],
}

pub fn identity(frame: &Frame<'_>, view: &IdentityView<'_>) -> String {
    let lang = frame.lang;
    let t = |k| lang.t(k);
    let error = |name: &str| view.problems.iter().find(|p| p.field == name).map(|p| t(p.key));
    let status = |name: &str| match (view.verified_by)(name) {
        Some(by) => t("declare.verified_warning").replace("{by}", &by),
        None => t("account.self_declared").to_owned(),
    };
    let f = &view.form;
    let text_field =
        |id: &'static str, label: &'static str, value: &str, kind: &str, ac: &str, max: usize, hint: Option<&str>| {
            let state = status(match id {
                "street_address" | "postal_code" | "locality" | "country" => "address",
                other => other,
            });
            let hint = match hint {
                Some(h) => format!("{h} — {state}"),
                None => state,
            };
            field(&Field {
                id,
                label: t(label),
                hint: Some(&hint),
                kind,
                autocomplete: ac,
                required: matches!(id, "given_name" | "family_name"),
                value,
                max_length: max,
                error: error(id),
            })
        };
    let mut body = format!(
        r#"<p>{intro}</p>
<form method="post" action="/account/identity" novalidate><input type="hidden" name="csrf" value="{csrf}">
{given}{family}"#,
        intro = esc(t("declare.intro")),
        csrf = esc(frame.csrf),
        given = text_field("given_name", "signup.given_name", &f.given_name, "text", "given-name", 100, None),
        family = text_field("family_name", "signup.family_name", &f.family_name, "text", "family-name", 100, None),
    );
    // Birth date: three fields (day and month optional), one error.
    let date_error = error("birthdate");
    let part = |id: &str, label: &str, value: &str, size: usize| {
        format!(
            r#"<div class="date-part"><label for="{id}">{label}</label><input id="{id}" name="{id}" type="text" inputmode="numeric" maxlength="{size}" size="{size}" value="{value}"{invalid}></div>"#,
            id = id,
            label = esc(label),
            value = esc(value),
            invalid = if date_error.is_some() { r#" aria-invalid="true""# } else { "" },
        )
    };
    let _ = write!(
        body,
        r#"<fieldset class="field" aria-describedby="birthdate-hint birthdate-error"><legend>{legend}</legend><p class="hint" id="birthdate-hint">{hint} — {state}</p><div class="date">{day}{month}{year}</div><p class="field-error" id="birthdate-error"{hidden}>{error}</p></fieldset>"#,
        legend = esc(t("claim.birthdate")),
        hint = esc(t("declare.birthdate_hint")),
        state = esc(&status("birthdate")),
        day = part("birth_day", t("declare.day"), &f.birth_day, 2),
        month = part("birth_month", t("declare.month"), &f.birth_month, 2),
        year = part("birth_year", t("declare.year"), &f.birth_year, 4),
        hidden = if date_error.is_some() { "" } else { " hidden" },
        error = esc(date_error.unwrap_or_default()),
    );
    let gender_error = error("gender");
    let radio = |value: &str, label: &str| {
        format!(
            r#"<div><input type="radio" id="gender-{id}" name="gender" value="{value}"{checked}><label for="gender-{id}">{label}</label></div>"#,
            id = if value.is_empty() { "none" } else { value },
            value = value,
            checked = if f.gender == value { " checked" } else { "" },
            label = esc(label),
        )
    };
    let _ = write!(
        body,
        r#"<fieldset class="field" aria-describedby="gender-hint gender-error"><legend>{legend}</legend><p class="hint" id="gender-hint">{state}</p>{female}{male}{none}<p class="field-error" id="gender-error"{hidden}>{error}</p></fieldset>"#,
        legend = esc(t("claim.gender")),
        state = esc(&status("gender")),
        female = radio("female", t("declare.female")),
        male = radio("male", t("declare.male")),
        none = radio("", t("declare.gender_none")),
        hidden = if gender_error.is_some() { "" } else { " hidden" },
        error = esc(gender_error.unwrap_or_default()),
    );
    let countries: String =
        cog::countries().iter().map(|c| format!(r#"<option value="{}"></option>"#, esc(c.name))).collect();
    let country = text_field(
        "birthcountry",
        "claim.birthcountry",
        &f.birthcountry,
        "text",
        "off",
        60,
        Some(t("declare.country_hint")),
    )
    .replacen("<input ", r#"<input list="countries" "#, 1);
    let commune =
        text_field("birthplace", "claim.birthplace", &f.birthplace, "text", "off", 80, Some(t("declare.commune_hint")))
            .replacen("<input ", r#"<input list="communes" data-commune-search "#, 1);
    let _ = write!(
        body,
        r#"{country}<datalist id="countries">{countries}</datalist>{commune}<datalist id="communes"></datalist>
<fieldset class="field"><legend>{address}</legend>{street}{postal}{locality}{address_country}</fieldset>
{phone}
<button type="submit">{save}</button>
</form>
<p><a href="/account">{back}</a></p>"#,
        address = esc(t("claim.address")),
        street = text_field("street_address", "declare.street", &f.street_address, "text", "street-address", 200, None),
        postal = text_field("postal_code", "declare.postal_code", &f.postal_code, "text", "postal-code", 16, None),
        locality = text_field("locality", "declare.locality", &f.locality, "text", "address-level2", 100, None),
        address_country = text_field("country", "declare.country", &f.country, "text", "country-name", 100, None),
        phone = text_field(
            "phone_number",
            "claim.phone_number",
            &f.phone_number,
            "tel",
            "tel",
            30,
            Some(t("declare.phone_hint"))
        ),
        save = esc(t("declare.save")),
        back = esc(t("error.back")),
    );
    page(frame, "declare.title", body)
}
