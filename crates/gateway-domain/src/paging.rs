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
