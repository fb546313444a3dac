//! Names parsed once at the edge: an `OrganizationId` or a `TableName` that exists is valid.

use std::fmt;

use crate::Problem;

/// The organization every row belongs to, from the caller's token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrganizationId(String);

impl OrganizationId {
    /// The longest organization id accepted, in characters (not bytes).
    pub const MAX_LEN: usize = 255;

    /// Accepts 1 to [`MAX_LEN`](Self::MAX_LEN) characters without control characters;
    /// anything else is WRONG_DATA_TYPE with `field` = `org`.
    pub fn parse(s: &str) -> Result<Self, Problem> {
        if s.is_empty() || s.chars().count() > Self::MAX_LEN || s.chars().any(char::is_control) {
            return Err(Problem::wrong_field(
                "org",
                "the organization must be 1 to 255 characters without control characters",
            ));
        }
        Ok(OrganizationId(s.to_owned()))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrganizationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table's name: 1 to 255 characters, no `/`, no control characters. Spaces and dots are
/// allowed (`table name_test.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName(String);

impl TableName {
    /// The longest name accepted, in characters (not bytes).
    pub const MAX_LEN: usize = 255;

    /// Parses a table name, e.g. the `{name}` path segment. Refuses an empty or too
    /// long name, `/`, control characters and leading or trailing white space: WRONG_DATA_TYPE
    /// with `field` = `name` and the refused value in `error_data.name`.
    pub fn parse(s: &str) -> Result<Self, Problem> {
        let bad = |why: &str| Err(Problem::wrong_field("name", format!("invalid table name: {why}")).with("name", s));
        let len = s.chars().count();
        if len == 0 {
            return bad("it is empty");
        }
        if len > Self::MAX_LEN {
            return bad("it is longer than 255 characters");
        }
        if s.contains('/') {
            return bad("it contains '/'");
        }
        if s.chars().any(char::is_control) {
            return bad("it contains a control character");
        }
        if s.trim() != s {
            return bad("it starts or ends with white space");
        }
        Ok(TableName(s.to_owned()))
    }

    /// The name as given (it is never normalised).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for TableName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TableName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        TableName::parse(&s).map_err(|p| serde::de::Error::custom(p.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(TableName::parse("table name_test.csv").is_ok());
        assert!(TableName::parse("ünïcode-名前").is_ok());
        assert!(TableName::parse(&"a".repeat(255)).is_ok());
        for bad in ["", "a/b", "tab\tname", "nul\0", " lead", "trail ", &"a".repeat(256)] {
            let p = TableName::parse(bad).unwrap_err();
            assert_eq!(p.field(), Some("name"), "{bad:?}");
        }
    }

    #[test]
    fn organizations() {
        assert!(OrganizationId::parse("acme").is_ok());
        assert!(OrganizationId::parse("").is_err());
        assert!(OrganizationId::parse("a\nb").is_err());
    }
}
