//! What a payment provider can charge: which currencies, in what steps, from what minimum.
//! Each provider states its own through [`PaymentGateway::limits`](super::PaymentGateway);
//! the rules that apply them to an order live here, so every provider is held to them alike.

use crate::money::{Amount, Currency};

/// A provider's limits for one currency, in ISO 4217 minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeLimits {
    /// Whether the provider charges in this currency at all.
    pub supported: bool,
    /// Every amount must be a whole multiple of this: 100 where the provider has no minor
    /// unit but ISO has two decimals (whole ariary at Stripe), 10 where it takes three
    /// decimals ending in 0 (KWD at Stripe), else 1.
    pub step: i64,
    /// The smallest total the provider charges, where it has a fixed one.
    pub minimum: Option<Amount>,
    /// The largest total it can charge in one payment.
    pub maximum: Amount,
}

/// Why a provider cannot take an order's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChargeRefusal {
    #[error("the payment provider does not take {0}")]
    CurrencyNotSupported(Currency),
    #[error("the payment provider charges at least {minimum} minor units of {currency}")]
    BelowMinimum { minimum: Amount, currency: Currency },
}

impl ChargeLimits {
    /// No limits but orderpay's own (the sandbox).
    pub const ANY: ChargeLimits = ChargeLimits {
        supported: true,
        step: 1,
        minimum: None,
        maximum: Amount::MAX,
    };

    /// Whether `amount` (a unit amount or a total) can be expressed to the provider: `Err`
    /// says how amounts must look, for the field's error message.
    ///
    /// # Errors
    /// When `amount` is not a whole multiple of the step.
    pub fn expressible(&self, amount: Amount, currency: Currency) -> Result<(), String> {
        if self.step > 1 && amount.minor_units() % self.step != 0 {
            let digits = usize::from(currency.exponent());
            let zeros = self.step.to_string().len() - 1;
            return Err(format!(
                "the payment provider takes {} only in steps of {} minor units (the last {} of \
                 its {digits} decimal{} must be 0)",
                currency.code().to_ascii_uppercase(),
                self.step,
                if zeros == 1 {
                    "digit".to_owned()
                } else {
                    format!("{zeros} digits")
                },
                if digits == 1 { "" } else { "s" },
            ));
        }
        Ok(())
    }

    /// Whether the provider can be asked to charge `total` in `currency` now.
    ///
    /// # Errors
    /// The reason it cannot.
    pub fn chargeable(&self, total: Amount, currency: Currency) -> Result<(), ChargeRefusal> {
        if !self.supported {
            return Err(ChargeRefusal::CurrencyNotSupported(currency));
        }
        match self.minimum {
            Some(minimum) if total < minimum => {
                Err(ChargeRefusal::BelowMinimum { minimum, currency })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(units: i64) -> Amount {
        Amount::new(units).unwrap()
    }

    #[test]
    fn amounts_off_the_step_are_refused_with_how_they_must_look() {
        let mga = Currency::parse("mga").unwrap();
        let whole = ChargeLimits {
            step: 100,
            ..ChargeLimits::ANY
        };
        assert_eq!(whole.expressible(amount(1000), mga), Ok(()));
        let why = whole.expressible(amount(1050), mga).unwrap_err();
        assert!(why.contains("last 2 digits of its 2 decimals"), "{why}");
        let kwd = Currency::parse("kwd").unwrap();
        let tens = ChargeLimits {
            step: 10,
            ..ChargeLimits::ANY
        };
        assert_eq!(tens.expressible(amount(5120), kwd), Ok(()));
        let why = tens.expressible(amount(5125), kwd).unwrap_err();
        assert!(why.contains("last digit of its 3 decimals"), "{why}");
        assert_eq!(ChargeLimits::ANY.expressible(amount(5125), kwd), Ok(()));
    }

    #[test]
    fn unsupported_currencies_and_totals_under_the_minimum_are_not_chargeable() {
        let usd = Currency::parse("usd").unwrap();
        let limits = ChargeLimits {
            minimum: Some(amount(50)),
            ..ChargeLimits::ANY
        };
        assert_eq!(limits.chargeable(amount(50), usd), Ok(()));
        assert_eq!(
            limits.chargeable(amount(49), usd),
            Err(ChargeRefusal::BelowMinimum {
                minimum: amount(50),
                currency: usd
            })
        );
        let none = ChargeLimits {
            supported: false,
            ..ChargeLimits::ANY
        };
        assert_eq!(
            none.chargeable(amount(5000), usd),
            Err(ChargeRefusal::CurrencyNotSupported(usd))
        );
        assert_eq!(ChargeLimits::ANY.chargeable(amount(1), usd), Ok(()));
    }
}
