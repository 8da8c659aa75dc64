//! Stripe's amount units, which are not always ISO 4217's, and what Stripe can charge. The
//! one place orderpay's ISO minor units are converted to Stripe's and back: every amount the
//! gateway sends and every amount it reads (sessions, webhooks, refunds) passes through here.
//!
//! - Zero-decimal at Stripe: whole units. MGA is two-decimal in ISO, so 10.00 Ar (ISO 1000)
//!   is Stripe's `10`, and 10.50 Ar cannot be charged.
//! - ISK has no minor unit in ISO, but Stripe's API wants it two-decimal with `00`: 5,000 kr
//!   (ISO 5000) is Stripe's `500000`.
//! - Three-decimal currencies take three decimals at Stripe, the last one `0`.
//!
//! Source: Stripe's "Supported currencies" page (zero-decimal list, special cases, three-decimal
//! currencies, minimum charge amounts).

use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::payment::ChargeLimits;

/// Zero-decimal currencies in Stripe's API (sorted).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// Three-decimal currencies in Stripe's API, whose last digit must be 0 (sorted).
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];
/// Two-decimal in Stripe's API although ISO gives them no minor unit (sorted).
const TWO_DECIMAL_OVER_ISO_ZERO: &[&str] = &["isk"];

/// The presentment currencies Stripe charges in, of those orderpay accepts (sorted). ISO
/// codes orderpay accepts but Stripe does not (fund codes such as `usn` or `clf`, currencies
/// under sanctions, those Stripe never listed) are refused when a pay link is asked for.
const SUPPORTED: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr",
    "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "szl", "thb", "tjs",
    "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd", "vuv",
    "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// Stripe's fixed minimum charge per currency, in ISO minor units (sorted by code). For other
/// currencies Stripe's minimum is the equivalent of 0.50 USD at the day's rate, which only
/// Stripe can tell: such a total is refused by Stripe when the session is opened.
const MINIMUM: &[(&str, i64)] = &[
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
    ("usd", 50),
];

/// The largest amount Stripe takes in one charge, in its own units (eight digits).
const STRIPE_MAXIMUM: i64 = 99_999_999;

fn listed(list: &[&str], currency: Currency) -> bool {
    list.binary_search(&currency.code()).is_ok()
}

/// How many decimals Stripe's API uses for `currency`.
fn stripe_exponent(currency: Currency) -> u8 {
    if listed(ZERO_DECIMAL, currency) {
        0
    } else if listed(THREE_DECIMAL, currency) {
        3
    } else if listed(TWO_DECIMAL_OVER_ISO_ZERO, currency) {
        2
    } else {
        currency.exponent()
    }
}

/// Stripe's units over ISO's, as a power of ten: `2` for ISK (×100), `-2` for MGA (÷100).
fn shift(currency: Currency) -> i32 {
    i32::from(stripe_exponent(currency)) - i32::from(currency.exponent())
}

/// `amount` (ISO minor units) in Stripe's units.
///
/// # Errors
/// When Stripe cannot express it (10.50 Ar, 5.125 KWD) or it overflows.
pub fn to_stripe(amount: Amount, currency: Currency) -> Result<i64, String> {
    let limits = limits(currency);
    limits.expressible(amount, currency)?;
    let units = amount.minor_units();
    let factor = 10i64.pow(shift(currency).unsigned_abs());
    if shift(currency) >= 0 {
        units
            .checked_mul(factor)
            .ok_or_else(|| format!("{units} {currency} overflows in Stripe's units"))
    } else {
        Ok(units / factor)
    }
}

/// `amount` in Stripe's units for `currency` (as Stripe spells it, any case), in ISO minor
/// units. An unknown currency is taken as it comes; an ISK amount with a fractional part
/// (Stripe never charges one) is rounded down, so it cannot match an order and is flagged.
pub fn from_stripe(amount: i64, currency: &str) -> i64 {
    let Ok(currency) = Currency::parse(currency) else {
        return amount;
    };
    let factor = 10i64.pow(shift(currency).unsigned_abs());
    if shift(currency) >= 0 {
        amount / factor
    } else {
        amount.saturating_mul(factor)
    }
}

/// What Stripe can charge in `currency`, in ISO minor units.
pub fn limits(currency: Currency) -> ChargeLimits {
    let shift = shift(currency);
    let step = if shift < 0 {
        10i64.pow(shift.unsigned_abs())
    } else if listed(THREE_DECIMAL, currency) {
        10
    } else {
        1
    };
    let maximum = if shift >= 0 {
        STRIPE_MAXIMUM / 10i64.pow(shift.unsigned_abs())
    } else {
        STRIPE_MAXIMUM.saturating_mul(10i64.pow(shift.unsigned_abs()))
    };
    ChargeLimits {
        supported: listed(SUPPORTED, currency),
        step,
        minimum: MINIMUM
            .binary_search_by(|(code, _)| code.cmp(&currency.code()))
            .ok()
            .and_then(|i| Amount::new(MINIMUM[i].1).ok()),
        maximum: Amount::new(maximum).unwrap_or(Amount::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn amount(units: i64) -> Amount {
        Amount::new(units).unwrap()
    }

    #[test]
    fn the_tables_are_sorted_for_binary_search_and_name_known_currencies() {
        for list in [
            ZERO_DECIMAL,
            THREE_DECIMAL,
            TWO_DECIMAL_OVER_ISO_ZERO,
            SUPPORTED,
        ] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "unsorted: {list:?}");
            for code in list {
                assert!(
                    Currency::parse(code).is_ok(),
                    "{code} is not an ISO code here"
                );
            }
        }
        assert!(MINIMUM.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, _) in MINIMUM {
            assert!(SUPPORTED.contains(code), "{code}");
        }
    }

    /// Every currency whose Stripe units differ from ISO's, found by walking them all: a
    /// change to the tables that adds or removes one fails here.
    #[test]
    fn only_isk_and_mga_change_units_and_each_converts_both_ways() {
        let differing: Vec<String> = Currency::all()
            .filter(|c| shift(*c) != 0)
            .map(|c| c.code().to_owned())
            .collect();
        assert_eq!(differing, ["isk", "mga"]);
        // 5,000 kr is Stripe's 500000; 10.00 Ar is Stripe's 10.
        assert_eq!(to_stripe(amount(5000), currency("isk")), Ok(500_000));
        assert_eq!(from_stripe(500_000, "isk"), 5000);
        assert_eq!(from_stripe(500_000, "ISK"), 5000);
        assert_eq!(to_stripe(amount(1000), currency("mga")), Ok(10));
        assert_eq!(from_stripe(10, "mga"), 1000);
        assert!(
            to_stripe(amount(1050), currency("mga")).is_err(),
            "10.50 Ar"
        );
        // Zero-decimal on both sides: unchanged.
        for code in ["jpy", "ugx", "krw", "clp", "vnd", "xof"] {
            assert_eq!(to_stripe(amount(1234), currency(code)), Ok(1234), "{code}");
            assert_eq!(from_stripe(1234, code), 1234, "{code}");
        }
        // Every other currency: unchanged both ways.
        for c in Currency::all().filter(|c| shift(*c) == 0) {
            let step = limits(c).step;
            assert_eq!(to_stripe(amount(step * 123), c), Ok(step * 123), "{c}");
            assert_eq!(from_stripe(step * 123, c.code()), step * 123, "{c}");
        }
    }

    #[test]
    fn three_decimal_amounts_must_end_in_zero() {
        for code in THREE_DECIMAL {
            let c = currency(code);
            assert_eq!(limits(c).step, 10, "{code}");
            assert_eq!(to_stripe(amount(5120), c), Ok(5120), "{code}");
            assert!(to_stripe(amount(5125), c).is_err(), "{code}");
        }
    }

    #[test]
    fn limits_name_the_unsupported_the_minimum_and_the_maximum() {
        assert!(limits(currency("usd")).supported);
        assert_eq!(limits(currency("usd")).minimum, Some(amount(50)));
        assert_eq!(limits(currency("gbp")).minimum, Some(amount(30)));
        assert_eq!(limits(currency("jpy")).minimum, Some(amount(50)));
        assert_eq!(
            limits(currency("kes")).minimum,
            None,
            "set by the day's rate"
        );
        for code in ["usn", "clf", "uyw", "ves", "kpw", "irr"] {
            assert!(!limits(currency(code)).supported, "{code}");
        }
        // Eight digits in Stripe's units: 999,999 kr, and for MGA beyond any order total.
        assert_eq!(limits(currency("isk")).maximum, amount(999_999));
        assert_eq!(limits(currency("usd")).maximum, amount(99_999_999));
        assert_eq!(limits(currency("mga")).maximum, amount(9_999_999_900));
        assert_eq!(limits(currency("mga")).step, 100);
    }
}
