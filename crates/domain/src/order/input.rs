//! A new order, checked as a whole: its lines counted, its total computed with checked
//! arithmetic and bounded. Each part was parsed by its own type first (in the HTTP adapter, from
//! the request's fields).

use super::{LineItem, Metadata};
use crate::customer::{CustomerId, NewCustomer};
use crate::money::{Amount, Currency};
use crate::validation::Violations;
#[cfg(any(test, feature = "testing"))]
use {
    super::{ItemName, Quantity},
    std::collections::BTreeMap,
};

/// Stripe's ceiling for one charge: an order total above it could never be paid.
pub const MAX_TOTAL_MINOR_UNITS: i64 = 99_999_999;
/// How many line items one order may have.
pub const MAX_ITEMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCustomer {
    Id(CustomerId),
    FindOrCreate(NewCustomer),
}

/// A validated order to create: items priced, total computed and within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer: OrderCustomer,
    pub currency: Currency,
    pub items: Vec<LineItem>,
    pub total: Amount,
    pub metadata: Metadata,
}

impl NewOrder {
    /// An order has 1 to [`MAX_ITEMS`] lines. A reader can ask before reading each line.
    pub fn check_line_count(count: usize) -> Result<(), String> {
        if (1..=MAX_ITEMS).contains(&count) {
            Ok(())
        } else {
            Err(format!("must have 1 to {MAX_ITEMS} line items"))
        }
    }

    /// An order of `items`, checked as a whole: 1 to [`MAX_ITEMS`] lines, a total (computed
    /// with checked arithmetic) above zero and at most [`MAX_TOTAL_MINOR_UNITS`]. Each part
    /// was parsed by its own type; what is wrong here is reported at `items`.
    pub fn new(
        customer: OrderCustomer,
        currency: Currency,
        items: Vec<LineItem>,
        metadata: Metadata,
    ) -> Result<NewOrder, Violations> {
        let mut v = Violations::new();
        if v.check("items", Self::check_line_count(items.len()))
            .is_none()
        {
            return Err(v);
        }
        let total = order_total(&items, &mut v);
        match total {
            Some(total) => Ok(NewOrder {
                customer,
                currency,
                items,
                total,
                metadata,
            }),
            None => Err(v),
        }
    }
}

/// Test support: an order for `customer` of `items` (name, quantity, unit amount), parsed by
/// the same constructors a request's fields go through.
#[cfg(any(test, feature = "testing"))]
pub fn order_of(
    customer: OrderCustomer,
    currency: &str,
    items: &[(&str, i64, i64)],
    metadata: BTreeMap<String, String>,
) -> Result<NewOrder, Violations> {
    let mut v = Violations::new();
    let currency = v.check("currency", Currency::parse(currency));
    let lines: Vec<_> = items
        .iter()
        .enumerate()
        .filter_map(|(i, (name, quantity, unit_amount))| {
            let name = v.check(format!("items[{i}].name"), ItemName::parse(name))?;
            let quantity = v.check(format!("items[{i}].quantity"), Quantity::parse(*quantity))?;
            let unit = v.check(format!("items[{i}].unit_amount"), Amount::new(*unit_amount))?;
            v.check(format!("items[{i}]"), LineItem::new(name, quantity, unit))
        })
        .collect();
    let metadata = match Metadata::parse(metadata) {
        Ok(m) => Some(m),
        Err(errors) => {
            v.absorb(errors);
            None
        }
    };
    match (currency, metadata) {
        (Some(currency), Some(metadata)) if v.is_empty() => {
            NewOrder::new(customer, currency, lines, metadata)
        }
        _ => Err(v),
    }
}

fn order_total(items: &[LineItem], v: &mut Violations) -> Option<Amount> {
    let total = items
        .iter()
        .try_fold(Amount::ZERO, |sum, item| sum.checked_add(item.amount));
    match total {
        Ok(total) if total.minor_units() == 0 => {
            v.add("items", "the order total must be greater than zero");
            None
        }
        Ok(total) if total.minor_units() <= MAX_TOTAL_MINOR_UNITS => Some(total),
        _ => {
            v.add(
                "items",
                format!("the order total must be at most {MAX_TOTAL_MINOR_UNITS} minor units"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn order(items: &[(i64, i64)]) -> Result<NewOrder, Violations> {
        let items: Vec<_> = items.iter().map(|(q, a)| ("Tea", *q, *a)).collect();
        order_of(
            OrderCustomer::Id(CustomerId::from_uuid(Uuid::now_v7())),
            "usd",
            &items,
            BTreeMap::new(),
        )
    }

    fn fields(v: &Violations) -> Vec<&str> {
        v.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn totals_are_computed_per_line_and_summed() {
        let order = order(&[(2, 450), (1, 100)]).unwrap();
        assert_eq!(order.items[0].amount.minor_units(), 900);
        assert_eq!(order.total.minor_units(), 1000);
        assert_eq!(order.currency.code(), "usd");
    }

    #[test]
    fn every_bad_part_is_reported_at_once_with_its_path() {
        let err = order_of(
            OrderCustomer::Id(CustomerId::from_uuid(Uuid::now_v7())),
            "zzz",
            &[("Tea", 0, 100), ("", 1, -5)],
            BTreeMap::from([("k".repeat(41), "v".into())]),
        )
        .unwrap_err();
        assert_eq!(
            fields(&err),
            [
                "currency",
                "items[0].quantity",
                "items[1].name",
                &format!("metadata.{}", "k".repeat(41)),
            ]
        );
    }

    #[test]
    fn item_count_is_bounded() {
        assert_eq!(fields(&order(&[]).unwrap_err()), ["items"]);
        assert_eq!(fields(&order(&[(1, 1); 101]).unwrap_err()), ["items"]);
        assert!(order(&[(1, 1); 100]).is_ok());
    }

    #[test]
    fn total_must_be_positive_and_within_the_ceiling() {
        assert_eq!(fields(&order(&[(1, 0)]).unwrap_err()), ["items"]);
        assert!(order(&[(1, MAX_TOTAL_MINOR_UNITS)]).is_ok());
        let over = order(&[(1, MAX_TOTAL_MINOR_UNITS), (1, 1)]);
        assert_eq!(fields(&over.unwrap_err()), ["items"]);
    }

    #[test]
    fn line_overflow_names_the_line() {
        let err = order(&[(1, 1), (2, i64::MAX)]).unwrap_err();
        assert_eq!(fields(&err), ["items[1]"]);
    }

    proptest! {
        #[test]
        fn parsed_totals_equal_the_wide_sum_or_are_rejected(
            lines in prop::collection::vec((1i64..1000, 0i64..10_000_000), 1..20)
        ) {
            let wide: i128 = lines.iter().map(|(q, a)| i128::from(*q) * i128::from(*a)).sum();
            match order(&lines) {
                Ok(order) => {
                    prop_assert_eq!(i128::from(order.total.minor_units()), wide);
                    prop_assert!(wide > 0 && wide <= i128::from(MAX_TOTAL_MINOR_UNITS));
                }
                Err(_) => prop_assert!(wide == 0 || wide > i128::from(MAX_TOTAL_MINOR_UNITS)),
            }
        }
    }
}
