//! INSEE's Code officiel géographique (COG): the codes a birth certificate
//! gives for a birth commune in France or a birth country abroad.
//!
//! The data is derived by `tools/cog/derive.mjs` (format described there) and
//! embedded at build time; the index is built on first use.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::identity::INSEE_FRANCE;

const COMMUNES: &str = include_str!("../../data/communes.tsv");
const COUNTRIES: &str = include_str!("../../data/countries.tsv");

/// What a commune code stands for today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommuneKind {
    /// A commune as it exists today.
    Current,
    /// A commune déléguée: a former commune inside a commune nouvelle.
    Delegated,
    /// A commune associée: a former commune associated with another.
    Associated,
    /// An arrondissement municipal of Paris, Lyon or Marseille.
    MunicipalDistrict,
    /// A code that disappeared when its commune merged into another.
    Former,
}

/// A commune code from the COG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commune {
    pub code: &'static str,
    /// `None` for a former code: the source keeps only which commune took it over.
    pub name: Option<&'static str>,
    /// Department code (`75`, `2A`, `974`…).
    pub department: &'static str,
    pub kind: CommuneKind,
    /// The current commune this code belongs to; `None` when it is one.
    pub belongs_to: Option<&'static str>,
}

impl Commune {
    pub fn is_current(&self) -> bool {
        self.kind == CommuneKind::Current
    }

    /// The current commune: itself, or the one it merged into or is part of.
    pub fn current_commune(&self) -> Option<Commune> {
        match self.belongs_to {
            None => Some(*self),
            Some(code) => commune(code),
        }
    }
}

/// A birth country from INSEE's list of foreign countries and territories,
/// plus France.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    /// As INSEE spells it: upper case, no accents (`ROYAUME-UNI`).
    pub name: &'static str,
    other_territories: &'static str,
}

impl Country {
    /// Territories INSEE files under the same code (`JERSEY` under `99132`).
    pub fn other_territories(&self) -> impl Iterator<Item = &'static str> {
        self.other_territories.split('|').filter(|t| !t.is_empty())
    }

    pub fn is_france(&self) -> bool {
        self.code == INSEE_FRANCE
    }
}

/// The commune with this INSEE code (`75056`, `2A004`; case and surrounding
/// spaces as typed are tolerated).
pub fn commune(code: &str) -> Option<Commune> {
    static INDEX: LazyLock<HashMap<&'static str, Commune>> =
        LazyLock::new(|| COMMUNES.lines().filter_map(parse_commune).map(|c| (c.code, c)).collect());
    INDEX.get(code.trim().to_ascii_uppercase().as_str()).copied()
}

/// The country with this INSEE code (`99XXX`; France is [`INSEE_FRANCE`]).
pub fn country(code: &str) -> Option<Country> {
    static INDEX: LazyLock<HashMap<&'static str, Country>> =
        LazyLock::new(|| COUNTRIES.lines().filter_map(parse_country).map(|c| (c.code, c)).collect());
    INDEX.get(code.trim()).copied()
}

/// Every country, France first, then by name (a form's list of choices).
pub fn countries() -> &'static [Country] {
    static LIST: LazyLock<Vec<Country>> = LazyLock::new(|| {
        let mut list: Vec<Country> = COUNTRIES.lines().filter_map(parse_country).collect();
        list.sort_by_key(|c| (!c.is_france(), c.name));
        list
    });
    &LIST
}

/// The country a citizen typed: its code, or its name in any case and
/// with or without accents (`Royaume-Uni`, `ROYAUME UNI`).
pub fn country_by_code_or_name(typed: &str) -> Option<Country> {
    country(typed).or_else(|| {
        let wanted = super::verification::fold(typed);
        countries().iter().find(|c| super::verification::fold(c.name) == wanted).copied()
    })
}

/// Communes of today whose name begins with `typed` (folded: no case, no
/// accents, hyphens as spaces), exact matches first, at most `limit`.
pub fn communes_named(typed: &str, limit: usize) -> Vec<Commune> {
    static CURRENT: LazyLock<Vec<(String, Commune)>> = LazyLock::new(|| {
        COMMUNES
            .lines()
            .filter_map(parse_commune)
            .filter(|c| c.is_current())
            .filter_map(|c| Some((super::verification::fold(c.name?), c)))
            .collect()
    });
    let wanted = super::verification::fold(typed);
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<&(String, Commune)> = CURRENT.iter().filter(|(name, _)| name.starts_with(&wanted)).collect();
    found.sort_by_key(|(name, c)| (name != &wanted, name.len(), c.code));
    found.into_iter().take(limit).map(|(_, c)| *c).collect()
}

/// `code name [kind belongs_to [department]]`; the department defaults to
/// the code's prefix (3 characters overseas).
fn parse_commune(line: &'static str) -> Option<Commune> {
    let mut cells = line.split('\t');
    let code = cells.next().filter(|c| c.len() == 5)?;
    let name = cells.next().filter(|n| !n.is_empty());
    let kind = match cells.next() {
        None => CommuneKind::Current,
        Some("d") => CommuneKind::Delegated,
        Some("a") => CommuneKind::Associated,
        Some("m") => CommuneKind::MunicipalDistrict,
        Some("f") => CommuneKind::Former,
        Some(_) => return None,
    };
    let belongs_to = cells.next();
    if (kind == CommuneKind::Current) != belongs_to.is_none() {
        return None;
    }
    let overseas = code.starts_with("97") || code.starts_with("98");
    let department = cells.next().or_else(|| code.get(..if overseas { 3 } else { 2 }))?;
    Some(Commune { code, name, department, kind, belongs_to })
}

fn parse_country(line: &'static str) -> Option<Country> {
    let mut cells = line.split('\t');
    let code = cells.next().filter(|c| c.len() == 5 && c.starts_with("99"))?;
    let name = cells.next().filter(|n| !n.is_empty())?;
    Some(Country { code, name, other_territories: cells.next().unwrap_or("") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_data_parses() {
        let communes = COMMUNES.lines().filter(|l| parse_commune(l).is_none()).collect::<Vec<_>>();
        assert!(communes.is_empty(), "{communes:?}");
        let countries = COUNTRIES.lines().filter(|l| parse_country(l).is_none()).collect::<Vec<_>>();
        assert!(countries.is_empty(), "{countries:?}");
        assert!(COMMUNES.lines().count() > 35_000);
    }

    #[test]
    fn every_merged_code_leads_to_a_current_commune() {
        for line in COMMUNES.lines() {
            let commune = parse_commune(line).unwrap();
            let current = commune.current_commune().unwrap_or_else(|| panic!("{line}"));
            assert!(current.is_current(), "{line}");
            assert_eq!(current.department, commune.department, "{line}");
        }
    }

    #[test]
    fn current_communes() {
        let paris = commune("75056").unwrap();
        assert_eq!((paris.name, paris.department, paris.kind), (Some("Paris"), "75", CommuneKind::Current));
        assert!(paris.is_current());
        assert_eq!(paris.belongs_to, None);
        assert_eq!(paris.current_commune(), Some(paris));
        let lyon = commune("69123").unwrap();
        assert_eq!((lyon.name, lyon.department), (Some("Lyon"), "69"));
        assert!(lyon.is_current());
        assert_eq!(commune(" 69123\n"), Some(lyon), "spaces as typed");
    }

    #[test]
    fn municipal_districts_belong_to_their_city() {
        let first = commune("75101").unwrap();
        assert_eq!(first.name, Some("Paris 1er Arrondissement"));
        assert_eq!(first.kind, CommuneKind::MunicipalDistrict);
        assert!(!first.is_current());
        assert_eq!(first.belongs_to, Some("75056"));
        assert_eq!(first.current_commune().and_then(|c| c.name), Some("Paris"));
        assert_eq!(commune("69381").and_then(|c| c.belongs_to), Some("69123"));
        assert_eq!(commune("13201").and_then(|c| c.belongs_to), Some("13055"));
    }

    #[test]
    fn merged_communes_lead_to_the_commune_nouvelle() {
        // Saint-Bois merged into the commune nouvelle Arboys en Bugey (Ain) in 2016.
        let saint_bois = commune("01340").unwrap();
        assert_eq!(saint_bois.name, Some("Saint-Bois"));
        assert_eq!(saint_bois.kind, CommuneKind::Delegated);
        assert!(!saint_bois.is_current());
        let arboys = saint_bois.current_commune().unwrap();
        assert_eq!((arboys.code, arboys.name), ("01015", Some("Arboys en Bugey")));
        assert!(arboys.is_current());

        // A commune associée across a department border: Escaufourt (Aisne
        // code) belongs to Saint-Souplet (Nord).
        let escaufourt = commune("02285").unwrap();
        assert_eq!((escaufourt.kind, escaufourt.department), (CommuneKind::Associated, "59"));
        assert_eq!(escaufourt.belongs_to, Some("59545"));

        // A code that disappeared: Ajaccio's code before Corsica's split in 1976.
        let former = commune("20004").unwrap();
        assert_eq!((former.kind, former.name, former.belongs_to), (CommuneKind::Former, None, Some("2A004")));
    }

    #[test]
    fn corsica_and_overseas() {
        let ajaccio = commune("2A004").unwrap();
        assert_eq!((ajaccio.name, ajaccio.department), (Some("Ajaccio"), "2A"));
        assert_eq!(commune("2a004"), Some(ajaccio), "lower case as typed");
        assert_eq!(commune("2B033").map(|c| c.department), Some("2B"));
        let saint_denis = commune("97411").unwrap();
        assert_eq!((saint_denis.name, saint_denis.department), (Some("Saint-Denis"), "974"));
        assert!(saint_denis.is_current());
        assert_eq!(commune("98735").map(|c| (c.name, c.department)), Some((Some("Papeete"), "987")));
    }

    #[test]
    fn unknown_codes() {
        for code in ["", "75", "99999", "75000", "20000", "ABCDE", "750560", "99100"] {
            assert_eq!(commune(code), None, "{code}");
        }
    }

    #[test]
    fn the_counter_checks_read_the_cog() {
        assert!(commune("75056").is_some() && commune("01340").is_some() && commune("20004").is_some());
        assert!(commune("99100").is_none() && commune("75000").is_none());
        assert!(country(INSEE_FRANCE).is_some() && country("99134").is_some());
        assert!(country("75056").is_none() && country("99999").is_none());
    }

    #[test]
    fn countries() {
        let france = country(INSEE_FRANCE).unwrap();
        assert_eq!(france.name, "FRANCE");
        assert!(france.is_france());
        let uk = country("99132").unwrap();
        assert_eq!(uk.name, "ROYAUME-UNI");
        assert!(!uk.is_france());
        assert!(uk.other_territories().any(|t| t == "JERSEY"));
        assert_eq!(country("99109").map(|c| c.name), Some("ALLEMAGNE"));
        assert_eq!(country("99127").map(|c| c.other_territories().count()), Some(0));
        for code in ["", "99999", "75056", "FRA", "9910"] {
            assert_eq!(country(code), None, "{code}");
        }
    }
}
