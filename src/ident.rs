//! Names and literals: the only way caller text becomes part of SQL.
//!
//! A [`Name`] can only be built by [`Name::normalize`] (caller text: checked, then snake_cased)
//! or [`Name::derived`] (names revos makes up, shortened deterministically when too long).
//! Its [`fmt::Display`] always double-quotes it, so an unquoted identifier cannot be written.

use heck::ToSnakeCase;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

use crate::error::{code, Issue};

/// Postgres' identifier limit (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// A checked, normalized identifier. Displays double-quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Name {
    /// Checks caller text and converts it to snake_case.
    ///
    /// The text as given may hold only ASCII letters, digits, `_`, `-` and spaces. Anything else
    /// is an `invalid_name` issue, never silently stripped. The result must start with a letter
    /// or `_` and fit in 63 bytes (`name_too_long`, never truncated).
    pub fn normalize(raw: &str, path: impl fmt::Display) -> Result<Name, Issue> {
        // The path is written only into an issue (most names have none).
        let path = || path.to_string();
        if raw.trim().is_empty() {
            return Err(Issue::new(path(), code::INVALID_NAME, "name is empty"));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == ' '))
        {
            return Err(Issue::new(
                path(),
                code::INVALID_NAME,
                format!(
                    "name {raw:?} contains {bad:?}; names may hold only letters, digits, '_', '-' and spaces"
                ),
            ));
        }
        let snake = snake_case(raw);
        if snake.is_empty() {
            return Err(Issue::new(
                path(),
                code::INVALID_NAME,
                format!("name {raw:?} has no letters or digits"),
            ));
        }
        let first = snake.chars().next().unwrap();
        if !(first.is_ascii_lowercase() || first == '_') {
            return Err(Issue::new(
                path(),
                code::INVALID_NAME,
                format!(
                    "name {raw:?} becomes {snake:?}, which does not start with a letter or '_'"
                ),
            ));
        }
        if snake.len() > MAX_IDENT_BYTES {
            return Err(Issue::new(
                path(),
                code::NAME_TOO_LONG,
                format!(
                    "name {raw:?} becomes {snake:?} ({} bytes); PostgreSQL allows {MAX_IDENT_BYTES} and revos never truncates a name you gave",
                    snake.len()
                ),
            ));
        }
        Ok(Name(snake))
    }

    /// A name revos derives from already-checked names (index, constraint, policy names).
    /// When it would exceed 63 bytes it is cut and suffixed with 8 hex digits of its SHA-256,
    /// so it stays unique and the same input always gives the same name.
    pub fn derived(text: &str) -> Name {
        debug_assert!(text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        if text.len() <= MAX_IDENT_BYTES {
            return Name(text.to_string());
        }
        let digest = hex(&Sha256::digest(text.as_bytes()));
        let keep = MAX_IDENT_BYTES - 9;
        Name(format!("{}_{}", &text[..keep], &digest[..8]))
    }

    /// A name read back from the catalog (already a real identifier).
    pub fn from_catalog(text: &str) -> Name {
        Name(text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote_ident(&self.0))
    }
}

/// snake_case that keeps leading underscores (`_private` stays `_private`).
pub fn snake_case(raw: &str) -> String {
    if is_plain_snake(raw) {
        return raw.to_string();
    }
    let trimmed = raw.trim();
    let lead = trimmed.chars().take_while(|c| *c == '_').count();
    let rest = &trimmed[lead..];
    format!("{}{}", "_".repeat(lead), rest.to_snake_case())
}

/// Already snake_case as heck writes it (`[a-z][a-z0-9]*(_[a-z0-9]+)*`): nothing to convert. Most
/// names in a payload are; converting each one cost three allocations and heck's word splitting.
fn is_plain_snake(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last() != Some(&b'_')
        && !s.contains("__")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Double-quotes an identifier, doubling embedded quotes (as Postgres' quote_ident does).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A standard-conforming string literal: single quotes doubled. Backslashes need no escaping
/// because revos only emits plain (non-E) literals and `standard_conforming_strings` is on
/// (set for the DDL by `apply`).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `"schema"."name"`.
pub fn qualified(schema: &Name, name: &Name) -> String {
    format!("{schema}.{name}")
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for names already in snake_case gives what heck gives.
        #[test]
        fn plain_snake_names_are_what_heck_makes_of_them(
            plain in "[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,5}){0,3}",
            any in "[a-zA-Z0-9_ -]{0,12}",
        ) {
            prop_assert!(is_plain_snake(&plain));
            prop_assert_eq!(snake_case(&plain), plain.to_snake_case());
            if is_plain_snake(&any) {
                prop_assert_eq!(snake_case(&any), any.to_snake_case());
            }
        }
    }

    #[test]
    fn not_plain_snake() {
        for s in ["", "_a", "a_", "a__b", "aB", "1a", " a", "a b", "a-b", "é"] {
            assert!(!is_plain_snake(s), "{s:?}");
        }
    }

    #[test]
    fn snake_cases_names() {
        for (raw, want) in [
            ("firstName", "first_name"),
            ("Patients", "patients"),
            ("TestSuccess", "test_success"),
            ("first name", "first_name"),
            ("first-name", "first_name"),
            ("patientID", "patient_id"),
            ("already_snake", "already_snake"),
            ("_private", "_private"),
            ("address2", "address2"),
            ("  padded  ", "padded"),
        ] {
            assert_eq!(Name::normalize(raw, "p").unwrap().as_str(), want, "{raw}");
        }
    }

    #[test]
    fn rejects_dangerous_characters_instead_of_stripping() {
        for raw in [
            "a\"b",
            "a;b",
            "a.b",
            "a(b)",
            "drop table x;--",
            "a'b",
            "a/*b",
            "ünï",
            "a\nb",
            "tab\tle",
        ] {
            let e = Name::normalize(raw, "tables[0].name").unwrap_err();
            assert_eq!(e.code, code::INVALID_NAME, "{raw}");
            assert_eq!(e.path, "tables[0].name");
        }
    }

    #[test]
    fn rejects_leading_digit_empty_and_long() {
        assert_eq!(
            Name::normalize("1abc", "p").unwrap_err().code,
            code::INVALID_NAME
        );
        assert_eq!(
            Name::normalize("", "p").unwrap_err().code,
            code::INVALID_NAME
        );
        assert_eq!(
            Name::normalize("---", "p").unwrap_err().code,
            code::INVALID_NAME
        );
        let long = "a".repeat(64);
        assert_eq!(
            Name::normalize(&long, "p").unwrap_err().code,
            code::NAME_TOO_LONG
        );
        assert!(Name::normalize(&"a".repeat(63), "p").is_ok());
        // camelCase growing past the limit is reported, not truncated
        let grows = "aB".repeat(32); // 64 chars -> longer after snake_case
        assert_eq!(
            Name::normalize(&grows, "p").unwrap_err().code,
            code::NAME_TOO_LONG
        );
    }

    #[test]
    fn derived_names_are_shortened_deterministically() {
        let long = format!("idx_{}_tenant_id_created_at", "t".repeat(60));
        let a = Name::derived(&long);
        let b = Name::derived(&long);
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), MAX_IDENT_BYTES);
        let other = Name::derived(&format!("idx_{}_tenant_id_created_ax", "t".repeat(60)));
        assert_ne!(a, other);
        assert_eq!(Name::derived("short").as_str(), "short");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(
            format!("{}", Name::normalize("Order", "p").unwrap()),
            "\"order\""
        );
    }
}
