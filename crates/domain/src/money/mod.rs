//! Money: ISO 4217 currencies with their minor-unit exponent, and amounts as integers in minor
//! units with checked arithmetic. There are no floats anywhere near money.

use std::fmt;

mod display;

pub use display::display;

/// A currency orderpay accepts: an active ISO 4217 code whose minor unit is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

// Each list is sorted: `parse` binary-searches them (a test keeps them sorted).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "pyg", "rwf", "ugx", "uyi", "vnd",
    "vuv", "xaf", "xof", "xpf",
];
const THREE_DECIMAL: &[&str] = &["bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"];
const FOUR_DECIMAL: &[&str] = &["clf", "uyw"];
const TWO_DECIMAL: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bmd", "bnd", "bob", "bov", "brl", "bsd", "btn", "bwp", "byn", "bzd", "cad", "cdf",
    "che", "chf", "chw", "cny", "cop", "cou", "crc", "cuc", "cup", "cve", "czk", "dkk", "dop",
    "dzd", "egp", "ern", "etb", "eur", "fjd", "fkp", "gbp", "gel", "ghs", "gip", "gmd", "gtq",
    "gyd", "hkd", "hnl", "htg", "huf", "idr", "ils", "inr", "irr", "jmd", "kes", "kgs", "khr",
    "kpw", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mru", "mur", "mvr", "mwk", "mxn", "mxv", "myr", "mzn", "nad", "ngn", "nio",
    "nok", "npr", "nzd", "pab", "pen", "pgk", "php", "pkr", "pln", "qar", "ron", "rsd", "rub",
    "sar", "sbd", "scr", "sdg", "sek", "sgd", "shp", "sle", "sll", "sos", "srd", "ssp", "stn",
    "svc", "syp", "szl", "thb", "tjs", "tmt", "top", "try", "ttd", "twd", "tzs", "uah", "usd",
    "usn", "uyu", "uzs", "ved", "ves", "wst", "xcd", "xcg", "yer", "zar", "zmw", "zwg", "zwl",
];

impl Currency {
    /// Parses a three-letter ISO 4217 code in any case; orderpay speaks it in lower case.
    pub fn parse(input: &str) -> Result<Self, String> {
        let lower = input.trim().to_ascii_lowercase();
        let exponent = [
            (ZERO_DECIMAL, 0),
            (TWO_DECIMAL, 2),
            (THREE_DECIMAL, 3),
            (FOUR_DECIMAL, 4),
        ]
        .iter()
        .find(|(codes, _)| codes.binary_search(&lower.as_str()).is_ok())
        .map(|(_, e)| *e)
        .ok_or_else(|| format!("`{input}` is not a supported ISO 4217 currency code"))?;
        let b = lower.as_bytes();
        Ok(Self {
            code: [b[0], b[1], b[2]],
            exponent,
        })
    }

    /// Every currency orderpay accepts.
    pub fn all() -> impl Iterator<Item = Currency> {
        [ZERO_DECIMAL, TWO_DECIMAL, THREE_DECIMAL, FOUR_DECIMAL]
            .into_iter()
            .flatten()
            .filter_map(|code| Self::parse(code).ok())
    }

    /// A currency read back from the store: three lower-case letters is what the schema
    /// guarantees and all that is checked, so a code dropped from the tables above later keeps
    /// old orders readable (its exponent is then taken to be 2, the common case).
    pub fn from_stored(stored: &str) -> Result<Self, String> {
        match stored.as_bytes() {
            &[a, b, c] if stored.bytes().all(|b| b.is_ascii_lowercase()) => {
                let exponent = Self::parse(stored).map_or(2, |known| known.exponent);
                Ok(Self {
                    code: [a, b, c],
                    exponent,
                })
            }
            _ => Err(format!(
                "stored currency `{stored}` is not three lower-case letters"
            )),
        }
    }

    /// The lower-case code, as the API and the store spell it.
    pub fn code(&self) -> &str {
        // Built only from ASCII codes in the tables above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// How many decimal places the minor unit has (2 for usd, 0 for jpy, 3 for kwd).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A non-negative amount in a currency's minor unit (cents for usd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must not be negative")]
    Negative,
    #[error("the amount overflows")]
    Overflow,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const MAX: Amount = Amount(i64::MAX);

    pub fn new(minor_units: i64) -> Result<Self, AmountError> {
        if minor_units < 0 {
            Err(AmountError::Negative)
        } else {
            Ok(Self(minor_units))
        }
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// `self - other`, or `Negative` when `other` is larger.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, AmountError> {
        Amount::new(self.0 - other.0)
    }

    pub fn checked_mul(self, factor: u32) -> Result<Amount, AmountError> {
        self.0
            .checked_mul(i64::from(factor))
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn currency_lists_are_sorted_and_disjoint_for_binary_search() {
        let lists = [ZERO_DECIMAL, TWO_DECIMAL, THREE_DECIMAL, FOUR_DECIMAL];
        for list in lists {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "unsorted: {list:?}");
        }
        let mut all: Vec<&str> = lists.concat();
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(all.len(), before, "a code in two lists");
        for code in all {
            assert!(Currency::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn currency_knows_its_exponent_and_speaks_lower_case() {
        assert_eq!(Currency::parse("usd").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().code(), "jpy");
        assert_eq!(Currency::parse("jpy").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("kwd").unwrap().exponent(), 3);
        assert!(Currency::parse("xyz").is_err());
        assert!(Currency::parse("us").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn no_currency_is_listed_twice() {
        let all: Vec<&str> = [ZERO_DECIMAL, TWO_DECIMAL, THREE_DECIMAL, FOUR_DECIMAL].concat();
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        assert!(all.iter().all(|c| c.len() == 3));
    }

    proptest! {
        #[test]
        fn currency_parse_never_panics(s in "\\PC{0,6}") {
            let _ = Currency::parse(&s);
        }

        #[test]
        fn checked_add_matches_wide_arithmetic(a in 0i64.., b in 0i64..) {
            let sum = Amount::new(a).unwrap().checked_add(Amount::new(b).unwrap());
            let wide = i128::from(a) + i128::from(b);
            match sum {
                Ok(s) => prop_assert_eq!(i128::from(s.minor_units()), wide),
                Err(e) => {
                    prop_assert_eq!(e, AmountError::Overflow);
                    prop_assert!(wide > i128::from(i64::MAX));
                }
            }
        }

        #[test]
        fn checked_mul_matches_wide_arithmetic(a in 0i64.., q in any::<u32>()) {
            let product = Amount::new(a).unwrap().checked_mul(q);
            let wide = i128::from(a) * i128::from(q);
            match product {
                Ok(p) => prop_assert_eq!(i128::from(p.minor_units()), wide),
                Err(_) => prop_assert!(wide > i128::from(i64::MAX)),
            }
        }

        #[test]
        fn negative_amounts_are_rejected(a in i64::MIN..0) {
            prop_assert_eq!(Amount::new(a), Err(AmountError::Negative));
        }
    }
}
