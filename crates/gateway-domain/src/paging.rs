//! Paging of the filter endpoint: `page` >= 1 (default 1), 1 <= `amt` <= 64 (default 10).

use crate::Problem;

/// The most tables one page may hold (`amt`'s maximum, per the contract).
pub const MAX_AMT: u32 = 64;
const MAX_PAGE: u32 = 10_000_000;

/// The `page` and `amt` query parameters of `GET /tables/`, in range: `page` from 1 (to ten
/// million), `amt` from 1 to [`MAX_AMT`]. The default is page 1 of 10 tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    page: u32,
    amt: u32,
}

impl Default for Paging {
    fn default() -> Self {
        Paging { page: 1, amt: 10 }
    }
}

impl Paging {
    /// Parses the query parameters as sent (absent = default; surrounding white space is
    /// ignored). A non-integer or out-of-range value is WRONG_DATA_TYPE with `field` = `page`
    /// or `amt` and the bounds in `error_data.min` and `error_data.max`.
    pub fn parse(page: Option<&str>, amt: Option<&str>) -> Result<Self, Problem> {
        let default = Paging::default();
        let page = match page {
            None => default.page,
            Some(s) => parse_in("page", s, 1, MAX_PAGE)?,
        };
        let amt = match amt {
            None => default.amt,
            Some(s) => parse_in("amt", s, 1, MAX_AMT)?,
        };
        Ok(Paging { page, amt })
    }

    /// The page asked for, 1-based.
    pub fn page(self) -> u32 {
        self.page
    }

    /// How many tables a page holds.
    pub fn amt(self) -> u32 {
        self.amt
    }

    /// Rows to skip before this page: `(page - 1) * amt`.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.amt)
    }
}

/// Where the next page of `GET /tables/` starts: after the last table of the page answered.
/// `next_cursor` in an answer, `cursor` in the next request: the page is then found by a seek
/// on the table order instead of skipping `(page - 1) * amt` rows, so it costs the same on
/// page 1 and page 10,000. Opaque to clients (URL-safe base64 of `[page, connection, name]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// The page it leads to.
    pub page: u32,
    /// The last table of the page before: the connection...
    pub connection: crate::ConnectionKind,
    /// ...and the name.
    pub name: crate::TableName,
}

impl PageCursor {
    /// The cursor as sent in `next_cursor`.
    pub fn encode(&self) -> String {
        use base64::Engine;
        let json = serde_json::json!([self.page, self.connection.as_str(), self.name.as_str()]).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses a `cursor` query parameter: WRONG_DATA_TYPE with `field` = `cursor` when it is
    /// not one the gateway answered.
    pub fn parse(s: &str) -> Result<PageCursor, Problem> {
        use base64::Engine;
        let bad =
            || Problem::wrong_field("cursor", "cursor is not one this gateway answered: send next_cursor as it came");
        if s.len() > 1024 {
            return Err(bad());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| bad())?;
        let (page, connection, name): (u32, String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        // Any page past the first: a cursor walk has no depth limit (MAX_PAGE bounds offsets).
        if page < 2 {
            return Err(bad());
        }
        Ok(PageCursor {
            page,
            connection: connection.parse().map_err(|_| bad())?,
            name: crate::TableName::parse(&name).map_err(|_| bad())?,
        })
    }
}

fn parse_in(field: &str, s: &str, min: u32, max: u32) -> Result<u32, Problem> {
    let out_of_range = || {
        Problem::wrong_field(field, format!("{field} must be an integer from {min} to {max}, got '{s}'"))
            .with("min", min)
            .with("max", max)
    };
    let n: i64 = s.trim().parse().map_err(|_| out_of_range())?;
    if n < i64::from(min) || n > i64::from(max) {
        return Err(out_of_range());
    }
    u32::try_from(n).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = PageCursor {
            page: 7,
            connection: crate::ConnectionKind::S3,
            name: crate::TableName::parse("users 2024.csv").unwrap_or_else(|_| unreachable!()),
        };
        assert_eq!(PageCursor::parse(&c.encode()), Ok(c));
        for bad in ["", "!!", "W10", "WzEsIlMzIiwieCJd", &"A".repeat(2000)] {
            let p = PageCursor::parse(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(p.field(), Some("cursor"));
        }
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Paging::parse(None, None), Ok(Paging { page: 1, amt: 10 }));
        let p = Paging::parse(Some("2"), Some("64")).unwrap_or_default();
        assert_eq!((p.page(), p.amt(), p.offset()), (2, 64, 64));
        for (page, amt, field) in [
            (Some("0"), None, "page"),
            (Some("-1"), None, "page"),
            (Some("x"), None, "page"),
            (None, Some("0"), "amt"),
            (None, Some("65"), "amt"),
            (None, Some("1.5"), "amt"),
        ] {
            assert_eq!(Paging::parse(page, amt).unwrap_err().field(), Some(field));
        }
    }
}
