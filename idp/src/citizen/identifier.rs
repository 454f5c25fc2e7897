//! Citizen identifiers: random, typeable, self-checking identifiers for the people Sésame knows.
//!
//! An identifier is 80 random bits (never derived from personal data) written as 16 Crockford
//! base32 characters, followed by one check character. It is stored in its canonical 17-character
//! form (`as_str`) and shown to people grouped as `XXXX-XXXX-XXXX-XXXX-C` (`Display`).
//!
//! # Check character
//!
//! Every canonical identifier `v₀ … v₁₆` (symbol values, the check symbol last) satisfies
//! `Σ wᵢ·vᵢ ≡ 0 (mod 37)` with weights `wᵢ = 17 − i`, so the check character has weight 1 and its
//! value is `−Σ_{i<16} wᵢ·vᵢ mod 37`, written with Crockford's 37-symbol check alphabet (the 32
//! data symbols, then `*`, `~`, `$`, `=`, `U` for 32 to 36). Why every error below is caught:
//!
//! * **Substituting** `a` by `b ≠ a` at position `i` changes the sum by `wᵢ·(b − a)`. 37 is prime,
//!   `1 ≤ wᵢ ≤ 17` and `0 < |b − a| ≤ 36`, so neither factor, hence not the product, is `≡ 0`.
//! * **Swapping neighbours** `a ≠ b` at positions `i, i+1` (the check character included) changes
//!   the sum by `(wᵢ − wᵢ₊₁)·(b − a) = b − a`, which is again non-zero modulo 37. A swap that moves
//!   a check-only symbol into the data part is rejected even earlier, as an invalid character.

use std::error::Error;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use ring::rand::SecureRandom;

/// Number of random data characters (16 × 5 bits = 80 bits).
const DATA_LEN: usize = 16;
/// Length of the canonical form: the data characters and the check character.
const CANONICAL_LEN: usize = DATA_LEN + 1;
/// The prime modulus of the check sum.
const MODULUS: u32 = 37;
/// Crockford's base32 alphabet followed by its five check-only symbols; a symbol's value is its index.
const SYMBOLS: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// Why an identifier could not be generated or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifierError {
    /// The system's secure random number generator failed.
    RandomnessUnavailable,
    /// The input does not have 17 significant characters (spaces and dashes are not counted).
    WrongLength {
        /// How many characters an identifier has (17).
        expected: usize,
        /// How many were found.
        found: usize,
    },
    /// A character cannot appear where it was found.
    InvalidCharacter {
        /// The character as typed.
        character: char,
        /// Its position, from 1, counting every character typed.
        position: usize,
    },
    /// The check character does not match the 16 characters before it.
    CheckCharacterMismatch,
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RandomnessUnavailable => f.write_str(
                "a new citizen identifier could not be created because the system's secure random \
                 number generator is unavailable; please try again later",
            ),
            Self::WrongLength { expected, found } => write!(
                f,
                "a citizen identifier has {expected} characters (spaces and dashes are not \
                 counted), but {found} were found"
            ),
            Self::InvalidCharacter { character, position } => write!(
                f,
                "the character '{character}' at position {position} is not allowed there: a \
                 citizen identifier uses the digits 0-9 and the letters A-Z except U, and only its \
                 last character may also be *, ~, $, = or U"
            ),
            Self::CheckCharacterMismatch => f.write_str(
                "the check character does not match: a character was probably mistyped or two \
                 neighbours swapped",
            ),
        }
    }
}

impl Error for IdentifierError {}

/// A citizen's random, self-checking identifier, held in its canonical 17-character form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CitizenIdentifier(String);

impl CitizenIdentifier {
    /// Draws a fresh identifier (80 random bits) from `rng`, normally a `ring::rand::SystemRandom`.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, IdentifierError> {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes[6..]).map_err(|_| IdentifierError::RandomnessUnavailable)?;
        let bits = u128::from_be_bytes(bytes);
        let mut values = [0u8; DATA_LEN];
        for (index, value) in values.iter_mut().enumerate() {
            *value = ((bits >> (5 * (DATA_LEN - 1 - index))) & 0x1f) as u8;
        }
        Ok(Self::from_values(&values))
    }

    /// Reads an identifier as a person may type it: case, spaces and dashes do not matter, and
    /// `O` is read as `0`, `I` or `L` as `1` (Crockford's aliases, in the check character too).
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let mut symbols = Vec::with_capacity(CANONICAL_LEN);
        for (index, character) in input.chars().enumerate() {
            if character == '-' || character.is_whitespace() {
                continue;
            }
            let position = index + 1;
            if check_value(character).is_none() {
                return Err(IdentifierError::InvalidCharacter { character, position });
            }
            symbols.push((character, position));
        }
        let Some((&(check_character, _), data)) = symbols.split_last() else {
            return Err(wrong_length(0));
        };
        if symbols.len() != CANONICAL_LEN {
            return Err(wrong_length(symbols.len()));
        }
        let mut values = [0u8; DATA_LEN];
        for (value, &(character, position)) in values.iter_mut().zip(data) {
            *value = data_value(character).ok_or(IdentifierError::InvalidCharacter { character, position })?;
        }
        if check_value(check_character) != Some(check_value_for(&values)) {
            return Err(IdentifierError::CheckCharacterMismatch);
        }
        Ok(Self::from_values(&values))
    }

    /// The canonical 17-character form (uppercase, ungrouped), for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Same as [`Self::as_str`].
    pub fn canonical(&self) -> &str {
        self.as_str()
    }

    /// Builds the canonical form from 16 data values (each taken modulo 32).
    fn from_values(values: &[u8; DATA_LEN]) -> Self {
        let values = values.map(|value| value & 0x1f);
        let mut canonical = String::with_capacity(CANONICAL_LEN);
        for value in values {
            canonical.push(char::from(SYMBOLS[usize::from(value)]));
        }
        canonical.push(char::from(SYMBOLS[usize::from(check_value_for(&values))]));
        Self(canonical)
    }
}

impl fmt::Display for CitizenIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, character) in self.0.chars().enumerate() {
            if index > 0 && index % 4 == 0 {
                f.write_char('-')?;
            }
            f.write_char(character)?;
        }
        Ok(())
    }
}

impl FromStr for CitizenIdentifier {
    type Err = IdentifierError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

fn wrong_length(found: usize) -> IdentifierError {
    IdentifierError::WrongLength { expected: CANONICAL_LEN, found }
}

/// The weight of the symbol at `position` (0-based) in the canonical form: 17 down to 1.
fn weight(position: usize) -> u32 {
    (CANONICAL_LEN - position) as u32
}

/// The check value (0..37) that makes the weighted sum of the whole identifier ≡ 0 (mod 37).
fn check_value_for(values: &[u8; DATA_LEN]) -> u8 {
    let sum: u32 = values.iter().enumerate().map(|(position, &value)| weight(position) * u32::from(value)).sum();
    ((MODULUS - sum % MODULUS) % MODULUS) as u8
}

/// The value of a data character (0..32), with Crockford's aliases; `None` if it is not one.
fn data_value(character: char) -> Option<u8> {
    match check_value(character)? {
        value @ 0..32 => Some(value),
        _ => None,
    }
}

/// The value of a check character (0..37), with Crockford's aliases; `None` if it is not one.
fn check_value(character: char) -> Option<u8> {
    let symbol = match character.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    let value = SYMBOLS.iter().position(|&b| char::from(b) == symbol)?;
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::{CitizenIdentifier as Id, IdentifierError as E, *};
    use ring::rand::SystemRandom;

    /// Fixed edge cases followed by 2,000 freshly generated identifiers.
    fn sample_identifiers() -> Vec<Id> {
        let fixed: [[u8; DATA_LEN]; 5] = [
            [0; DATA_LEN],
            [31; DATA_LEN],
            std::array::from_fn(|i| i as u8),
            std::array::from_fn(|i| 31 - i as u8),
            std::array::from_fn(|i| if i % 2 == 0 { 0 } else { 31 }),
        ];
        let rng = SystemRandom::new();
        let random = (0..2_000).map(|_| Id::generate(&rng).expect("randomness"));
        fixed.iter().map(Id::from_values).chain(random).collect()
    }

    fn invalid(character: char, position: usize) -> Result<Id, E> {
        Err(E::InvalidCharacter { character, position })
    }

    /// What parsing must give once `symbol` wrongly stands at 0-based `position`: a check-only
    /// symbol in the data part is an invalid character, anything else a check mismatch.
    fn expected_error(symbol: u8, position: usize) -> Result<Id, E> {
        if position < DATA_LEN && SYMBOLS[32..].contains(&symbol) {
            invalid(char::from(symbol), position + 1)
        } else {
            Err(E::CheckCharacterMismatch)
        }
    }

    fn parse_bytes(typed: Vec<u8>) -> (String, Result<Id, E>) {
        let typed = String::from_utf8(typed).expect("ASCII");
        let result = Id::parse(&typed);
        (typed, result)
    }

    /// The check sum is linear, so an error is caught in every identifier iff the change it makes
    /// to the sum is non-zero modulo 37: this checks every such change, for every position.
    #[test]
    fn every_substitution_and_adjacent_swap_changes_the_sum() {
        let range = |position| if position == DATA_LEN { MODULUS } else { 32 };
        for position in 0..CANONICAL_LEN {
            for a in 0..range(position) {
                for b in (0..MODULUS).filter(|&b| b != a) {
                    let change = a + MODULUS - b;
                    if b < range(position) {
                        let substitution = weight(position) * change;
                        assert_ne!(substitution % MODULUS, 0, "{position}:{a}->{b}");
                    }
                    if position < DATA_LEN {
                        let swap = (weight(position) - weight(position + 1)) * change;
                        assert_ne!(swap % MODULUS, 0, "{position}:{a}<->{b}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_substitution_and_adjacent_swap_is_rejected() {
        for identifier in sample_identifiers() {
            let original = identifier.as_str().as_bytes().to_vec();
            for (position, &current) in original.iter().enumerate() {
                for &symbol in SYMBOLS.iter().filter(|&&symbol| symbol != current) {
                    let mut typed = original.clone();
                    typed[position] = symbol;
                    let (typed, result) = parse_bytes(typed);
                    assert_eq!(result, expected_error(symbol, position), "{typed}");
                }
                if position < DATA_LEN && current != original[position + 1] {
                    let mut typed = original.clone();
                    typed.swap(position, position + 1);
                    let expected = expected_error(typed[position], position);
                    let (typed, result) = parse_bytes(typed);
                    assert_eq!(result, expected, "{typed}");
                }
            }
        }
    }

    #[test]
    fn generate_display_parse_round_trip() {
        for identifier in sample_identifiers() {
            let shown = identifier.to_string();
            assert_eq!((shown.len(), shown.matches('-').count()), (21, 4));
            assert_eq!(shown.replace('-', ""), identifier.canonical());
            assert_eq!(identifier.as_str().len(), CANONICAL_LEN);
            assert_eq!(shown.parse::<Id>(), Ok(identifier.clone()));
            assert_eq!(Id::parse(identifier.as_str()), Ok(identifier));
        }
    }

    #[test]
    fn lowercase_spaces_dashes_and_aliases_are_accepted() {
        let identifier = Id::from_values(&[0, 1, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let canonical = identifier.as_str();
        assert_eq!(&canonical[..DATA_LEN], "01010123456789AB");
        let check = &canonical[DATA_LEN..];
        for typed in [
            canonical.to_lowercase(),
            format!(" {} ", identifier.to_string().to_lowercase()),
            format!("01 01 01 23 - 45 67-89ab{check}"),
            format!("OIOLoi--2345 6789 AB {check}"),
        ] {
            assert_eq!(Id::parse(&typed), Ok(identifier.clone()), "{typed:?}");
        }
    }

    #[test]
    fn check_only_symbols_are_accepted_as_check_character() {
        let identifiers: Vec<_> =
            (0..32 * 32).map(|n| Id::from_values(&std::array::from_fn(|i| (n >> i) as u8))).collect();
        for symbol in &SYMBOLS[32..] {
            let mut found = identifiers.iter().filter(|id| id.0.ends_with(char::from(*symbol)));
            let identifier = found.next().expect("some identifier has this check symbol");
            let lower = identifier.as_str().to_lowercase();
            assert_eq!(Id::parse(&lower), Ok(identifier.clone()));
        }
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert_eq!(Id::parse(""), Err(wrong_length(0)));
        assert_eq!(Id::parse(" - "), Err(wrong_length(0)));
        assert_eq!(Id::parse("0123-4567-89AB-CDEF"), Err(wrong_length(16)));
        let error = Id::parse("0123456789ABCDEFGH").unwrap_err();
        assert_eq!(error, wrong_length(18));
        assert!(error.to_string().contains("has 17 characters"));
        assert!(error.to_string().contains("but 18 were found"));
    }

    #[test]
    fn invalid_characters_are_rejected() {
        let result = Id::parse("0123-45#7-89AB-CDEF-0");
        assert_eq!(result, invalid('#', 8));
        let message = result.unwrap_err().to_string();
        assert!(message.contains("'#' at position 8"));
        assert_eq!(Id::parse("é123456789ABCDEF0"), invalid('é', 1));
        assert_eq!(Id::parse("0123 u567 89AB CDEF 0"), invalid('u', 6));
        assert_eq!(Id::parse("*123456789ABCDEF0"), invalid('*', 1));
    }

    #[test]
    fn wrong_check_character_is_rejected() {
        let identifier = Id::from_values(&[7; DATA_LEN]);
        let wrong = if identifier.0.ends_with('0') { '1' } else { '0' };
        let typed = format!("{}{wrong}", &identifier.as_str()[..DATA_LEN]);
        let error: Box<dyn Error> = Box::new(Id::parse(&typed).unwrap_err());
        let message = error.to_string();
        assert_eq!(message, E::CheckCharacterMismatch.to_string());
        assert!(message.contains("does not match: a character was probably mistyped"));
        let randomness = E::RandomnessUnavailable.to_string();
        assert!(randomness.contains("secure random number generator is unavailable"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::{DATA_LEN, Id, SYMBOLS};

        fn identifier() -> impl Strategy<Value = Id> {
            proptest::array::uniform16(0u8..32).prop_map(|values| Id::from_values(&values))
        }

        proptest! {
            #![proptest_config(crate::properties::config())]

            #[test]
            fn any_text_is_read_or_refused_without_panic(input in any::<String>()) {
                if let Ok(id) = Id::parse(&input) {
                    prop_assert_eq!(Id::parse(id.as_str()), Ok(id));
                }
            }

            #[test]
            fn every_written_form_reads_back(id in identifier(), lower in any::<bool>(), sep in "[ -]{0,2}") {
                let grouped = id.to_string().replace('-', &sep);
                let typed = if lower { grouped.to_lowercase() } else { grouped };
                prop_assert_eq!(Id::parse(&typed), Ok(id.clone()));
                let aliased = id.as_str().replace('0', "o").replace('1', "l");
                prop_assert_eq!(Id::parse(&aliased), Ok(id));
            }

            #[test]
            fn one_mistyped_character_is_caught(id in identifier(), position in 0..=DATA_LEN, symbol in 0usize..32) {
                let mut typed: Vec<char> = id.as_str().chars().collect();
                let replacement = char::from(SYMBOLS[symbol]);
                prop_assume!(typed[position] != replacement);
                typed[position] = replacement;
                prop_assert!(Id::parse(&typed.into_iter().collect::<String>()).is_err());
            }
        }
    }
}
