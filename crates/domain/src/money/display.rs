//! Amounts as people read them in the currency: `$12.25`, `12,25 €`, `¥1,200`, `5.000 kr`.
//! One table says how each currency is written where it is spent (its symbol, where the
//! symbol goes, and the separators, after CLDR's conventions for the currency's home locale);
//! a currency not in it is written with its ISO code, `KWD 1,234.567`. The number of decimals
//! is always the currency's ISO minor unit, so no amount is rounded or padded.

use super::{Amount, Currency};

/// A no-break space: a symbol and its amount, or groups of digits, never part at a line end.
const NBSP: char = '\u{a0}';

/// How a currency is written: `#` in `pattern` stands for the number; its digit groups are
/// parted by `group` (`None` for none), the fraction by `decimal`.
struct Style {
    pattern: &'static str,
    group: Option<char>,
    decimal: char,
}

const fn style(pattern: &'static str, group: char, decimal: char) -> Style {
    Style {
        pattern,
        group: Some(group),
        decimal,
    }
}

/// The currencies written by their own conventions, sorted by code (a test keeps it so).
const TABLE: &[(&str, Style)] = &[
    ("ars", style("$\u{a0}#", '.', ',')),
    ("aud", style("$#", ',', '.')),
    ("brl", style("R$\u{a0}#", '.', ',')),
    ("cad", style("$#", ',', '.')),
    ("chf", style("CHF\u{a0}#", '\u{2019}', '.')),
    ("clp", style("$#", '.', ',')),
    ("cny", style("¥#", ',', '.')),
    ("cop", style("$\u{a0}#", '.', ',')),
    ("czk", style("#\u{a0}Kč", NBSP, ',')),
    ("dkk", style("#\u{a0}kr.", '.', ',')),
    ("eur", style("#\u{a0}€", '.', ',')),
    ("gbp", style("£#", ',', '.')),
    ("hkd", style("HK$#", ',', '.')),
    ("huf", style("#\u{a0}Ft", NBSP, ',')),
    ("idr", style("Rp\u{a0}#", '.', ',')),
    ("ils", style("#\u{a0}₪", ',', '.')),
    ("inr", style("₹#", ',', '.')),
    ("isk", style("#\u{a0}kr", '.', ',')),
    ("jpy", style("¥#", ',', '.')),
    ("kes", style("Ksh\u{a0}#", ',', '.')),
    ("krw", style("₩#", ',', '.')),
    ("mxn", style("$#", ',', '.')),
    ("myr", style("RM#", ',', '.')),
    ("ngn", style("₦#", ',', '.')),
    ("nok", style("#\u{a0}kr", NBSP, ',')),
    ("nzd", style("$#", ',', '.')),
    ("pen", style("S/\u{a0}#", ',', '.')),
    ("php", style("₱#", ',', '.')),
    ("pln", style("#\u{a0}zł", NBSP, ',')),
    ("ron", style("#\u{a0}lei", '.', ',')),
    ("rub", style("#\u{a0}₽", NBSP, ',')),
    ("sek", style("#\u{a0}kr", NBSP, ',')),
    ("sgd", style("$#", ',', '.')),
    ("thb", style("฿#", ',', '.')),
    ("try", style("₺#", '.', ',')),
    ("twd", style("NT$#", ',', '.')),
    ("uah", style("#\u{a0}₴", NBSP, ',')),
    ("usd", style("$#", ',', '.')),
    ("vnd", style("#\u{a0}₫", '.', ',')),
    ("zar", style("R\u{a0}#", NBSP, ',')),
];

/// Currencies whose home locale groups digits in lakhs and crores: `₹1,23,456.00`.
const LAKH: &[&str] = &["inr"];

/// `amount` in `currency` as people read it there: `1225` usd is `$12.25`, eur `12,25 €`
/// (with a no-break space), `120000` jpy `¥120,000`.
pub fn display(amount: Amount, currency: Currency) -> String {
    let code = currency.code();
    let fallback;
    let style = match TABLE.binary_search_by(|(c, _)| (*c).cmp(code)) {
        Ok(i) => &TABLE[i].1,
        Err(_) => {
            fallback = Style {
                pattern: "",
                group: Some(','),
                decimal: '.',
            };
            &fallback
        }
    };
    let number = number(amount, currency.exponent(), style, LAKH.contains(&code));
    if style.pattern.is_empty() {
        format!("{}{NBSP}{number}", code.to_ascii_uppercase())
    } else {
        style.pattern.replacen('#', &number, 1)
    }
}

/// The digits of `amount` with `exponent` decimals, grouped as `style` says.
fn number(amount: Amount, exponent: u8, style: &Style, lakh: bool) -> String {
    let digits = format!(
        "{:0width$}",
        amount.minor_units(),
        width = usize::from(exponent) + 1
    );
    let (whole, fraction) = digits.split_at(digits.len() - usize::from(exponent));
    let mut out = String::with_capacity(digits.len() + 8);
    for (i, digit) in whole.chars().enumerate() {
        let left = whole.len() - i;
        let boundary = i > 0
            && if lakh && left > 3 {
                (left - 3) % 2 == 0
            } else {
                left % 3 == 0
            };
        if boundary && let Some(group) = style.group {
            out.push(group);
        }
        out.push(digit);
    }
    if !fraction.is_empty() {
        out.push(style.decimal);
        out.push_str(fraction);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(minor: i64, code: &str) -> String {
        display(Amount::new(minor).unwrap(), Currency::parse(code).unwrap())
    }

    #[test]
    fn amounts_read_as_in_their_currency() {
        assert_eq!(shown(1225, "usd"), "$12.25");
        assert_eq!(shown(1225, "eur"), "12,25\u{a0}€");
        assert_eq!(shown(1200, "jpy"), "¥1,200");
        assert_eq!(shown(5000, "isk"), "5.000\u{a0}kr");
        assert_eq!(shown(123_456_789, "eur"), "1.234.567,89\u{a0}€");
        assert_eq!(shown(5, "usd"), "$0.05");
        assert_eq!(shown(0, "jpy"), "¥0");
        assert_eq!(shown(12_345_678, "inr"), "₹1,23,456.78");
        assert_eq!(shown(99_999, "inr"), "₹999.99");
        assert_eq!(
            shown(123_456_700, "chf"),
            "CHF\u{a0}1\u{2019}234\u{2019}567.00"
        );
        assert_eq!(shown(123_456, "sek"), "1\u{a0}234,56\u{a0}kr");
        assert_eq!(shown(1_234_567, "kwd"), "KWD\u{a0}1,234.567");
        assert_eq!(shown(10_000, "clf"), "CLF\u{a0}1.0000");
        assert_eq!(shown(i64::MAX, "usd"), "$92,233,720,368,547,758.07");
    }

    #[test]
    fn the_table_is_sorted_and_names_only_accepted_currencies() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, _) in TABLE {
            assert!(Currency::parse(code).is_ok(), "{code}");
        }
    }

    /// Every currency the service accepts is written with its symbol (or code) around a
    /// number that, without its group separators, is the amount with the ISO number of
    /// decimals.
    #[test]
    fn every_accepted_currency_reads_back_as_its_amount() {
        for currency in Currency::all() {
            let code = currency.code();
            let style = TABLE.iter().find(|(c, _)| *c == code).map(|(_, s)| s);
            let upper = code.to_ascii_uppercase();
            let (before, after) = match style {
                Some(s) => s.pattern.split_once('#').unwrap(),
                None => (upper.as_str(), ""),
            };
            let (group, decimal) = style.map_or((',', '.'), |s| (s.group.unwrap(), s.decimal));
            for minor in [0, 7, 1_234_567_891, i64::MAX] {
                let text = display(Amount::new(minor).unwrap(), currency);
                let number = text
                    .strip_prefix(before.trim_end_matches(NBSP))
                    .and_then(|t| t.strip_suffix(after.trim_start_matches(NBSP)))
                    .unwrap_or_else(|| panic!("{code}: {text}"))
                    .trim_matches(NBSP);
                let plain: String = number.chars().filter(|c| *c != group).collect();
                let e = u32::from(currency.exponent());
                let expected = match e {
                    0 => minor.to_string(),
                    e => format!(
                        "{}{decimal}{:0w$}",
                        minor / 10i64.pow(e),
                        minor % 10i64.pow(e),
                        w = e as usize
                    ),
                };
                assert_eq!(plain, expected, "{code}: {text}");
            }
        }
    }
}
