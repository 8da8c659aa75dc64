//! Creating an order from what a client sent: every field parsed, totals computed with checked
//! arithmetic, every problem reported at once with its JSON path.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{ItemName, LineItem, Metadata, Quantity};
use crate::customer::{CustomerId, CustomerInput, NewCustomer};
use crate::money::{Amount, Currency};
use crate::phone::PhoneRegion;
use crate::validation::Violations;

/// Stripe's ceiling for one charge: an order total above it could never be paid.
pub const MAX_TOTAL_MINOR_UNITS: i64 = 99_999_999;
/// How many line items one order may have.
pub const MAX_ITEMS: usize = 100;

/// Who an order is for, as the client said it.
#[derive(Debug, Clone)]
pub enum OrderCustomerInput {
    Id(Uuid),
    /// Find the customer with this phone, or create them.
    Phone(CustomerInput),
    /// The client gave both or neither.
    Ambiguous {
        given_both: bool,
    },
}

/// A line item as the client sent it; `None` for a number that was missing or not a number.
#[derive(Debug, Clone)]
pub struct LineItemInput {
    pub name: String,
    pub quantity: Option<i64>,
    pub unit_amount: Option<i64>,
}

/// A request to create an order, as the client sent it.
#[derive(Debug, Clone)]
pub struct OrderInput {
    pub customer: OrderCustomerInput,
    pub currency: String,
    pub items: Vec<LineItemInput>,
    pub metadata: BTreeMap<String, String>,
}

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

impl OrderInput {
    /// Parses every field and computes the totals with checked arithmetic, reporting every
    /// problem at once with its JSON path.
    pub fn parse(self, region: Option<PhoneRegion>) -> Result<NewOrder, Violations> {
        let mut v = Violations::new();
        let customer = match &self.customer {
            OrderCustomerInput::Id(id) => Some(OrderCustomer::Id(CustomerId::from_uuid(*id))),
            OrderCustomerInput::Phone(input) => match input.parse(region, "customer.") {
                Ok(new) => Some(OrderCustomer::FindOrCreate(new)),
                Err(errors) => {
                    v.absorb(errors);
                    None
                }
            },
            OrderCustomerInput::Ambiguous { given_both } => {
                let why = if *given_both {
                    "give either customer_id or customer, not both"
                } else {
                    "give customer_id, or customer with a phone and a name"
                };
                v.add("customer_id", why);
                None
            }
        };
        let currency = v.check("currency", Currency::parse(&self.currency));
        let items = parse_items(&self.items, &mut v);
        let metadata = match Metadata::parse(self.metadata) {
            Ok(m) => Some(m),
            Err(errors) => {
                v.absorb(errors);
                None
            }
        };
        let total = items
            .as_deref()
            .and_then(|items| order_total(items, &mut v));
        match (customer, currency, items, total, metadata) {
            (Some(customer), Some(currency), Some(items), Some(total), Some(metadata))
                if v.is_empty() =>
            {
                Ok(NewOrder {
                    customer,
                    currency,
                    items,
                    total,
                    metadata,
                })
            }
            _ => Err(v),
        }
    }
}

fn parse_items(inputs: &[LineItemInput], v: &mut Violations) -> Option<Vec<LineItem>> {
    if inputs.is_empty() || inputs.len() > MAX_ITEMS {
        v.add("items", format!("must have 1 to {MAX_ITEMS} line items"));
        return None;
    }
    let mut items = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let name = v.check(format!("items[{i}].name"), ItemName::parse(&input.name));
        let required = || "is required".to_string();
        let quantity = v.check(
            format!("items[{i}].quantity"),
            input
                .quantity
                .ok_or_else(required)
                .and_then(Quantity::parse),
        );
        let unit_amount = v.check(
            format!("items[{i}].unit_amount"),
            input
                .unit_amount
                .ok_or_else(required)
                .and_then(|a| Amount::new(a).map_err(|e| e.to_string())),
        );
        if let (Some(name), Some(quantity), Some(unit_amount)) = (name, quantity, unit_amount)
            && let Some(item) = v.check(
                format!("items[{i}]"),
                LineItem::new(name, quantity, unit_amount),
            )
        {
            items.push(item);
        }
    }
    (items.len() == inputs.len()).then_some(items)
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

    fn item(quantity: i64, unit_amount: i64) -> LineItemInput {
        LineItemInput {
            name: "Tea".into(),
            quantity: Some(quantity),
            unit_amount: Some(unit_amount),
        }
    }

    fn input(items: Vec<LineItemInput>) -> OrderInput {
        OrderInput {
            customer: OrderCustomerInput::Id(Uuid::now_v7()),
            currency: "usd".into(),
            items,
            metadata: BTreeMap::new(),
        }
    }

    fn fields(v: &Violations) -> Vec<&str> {
        v.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn totals_are_computed_per_line_and_summed() {
        let order = input(vec![item(2, 450), item(1, 100)]).parse(None).unwrap();
        assert_eq!(order.items[0].amount.minor_units(), 900);
        assert_eq!(order.total.minor_units(), 1000);
        assert_eq!(order.currency.code(), "usd");
    }

    #[test]
    fn every_bad_field_is_reported_at_once_with_its_path() {
        let mut bad = input(vec![item(0, 100), item(1, -5)]);
        bad.currency = "zzz".into();
        bad.items[1].name = "".into();
        bad.metadata.insert("k".repeat(41), "v".into());
        let err = bad.parse(None).unwrap_err();
        assert_eq!(
            fields(&err),
            [
                "currency",
                "items[0].quantity",
                "items[1].name",
                "items[1].unit_amount",
                &format!("metadata.{}", "k".repeat(41)),
            ]
        );
    }

    #[test]
    fn item_count_is_bounded() {
        assert_eq!(fields(&input(vec![]).parse(None).unwrap_err()), ["items"]);
        let many = (0..101).map(|_| item(1, 1)).collect();
        assert_eq!(fields(&input(many).parse(None).unwrap_err()), ["items"]);
        let hundred = (0..100).map(|_| item(1, 1)).collect();
        assert!(input(hundred).parse(None).is_ok());
    }

    #[test]
    fn total_must_be_positive_and_within_the_ceiling() {
        assert_eq!(
            fields(&input(vec![item(1, 0)]).parse(None).unwrap_err()),
            ["items"]
        );
        assert!(
            input(vec![item(1, MAX_TOTAL_MINOR_UNITS)])
                .parse(None)
                .is_ok()
        );
        let over = input(vec![item(1, MAX_TOTAL_MINOR_UNITS), item(1, 1)]);
        assert_eq!(fields(&over.parse(None).unwrap_err()), ["items"]);
    }

    #[test]
    fn line_overflow_names_the_line() {
        let err = input(vec![item(1, 1), item(2, i64::MAX)])
            .parse(None)
            .unwrap_err();
        assert_eq!(fields(&err), ["items[1]"]);
    }

    #[test]
    fn customer_must_be_given_one_way() {
        let mut both = input(vec![item(1, 1)]);
        both.customer = OrderCustomerInput::Ambiguous { given_both: true };
        assert_eq!(fields(&both.parse(None).unwrap_err()), ["customer_id"]);
        let mut by_phone = input(vec![item(1, 1)]);
        by_phone.customer = OrderCustomerInput::Phone(CustomerInput {
            phone: "12".into(),
            name: "Ada".into(),
            email: None,
        });
        assert_eq!(
            fields(&by_phone.parse(None).unwrap_err()),
            ["customer.phone"]
        );
    }

    proptest! {
        #[test]
        fn parsed_totals_equal_the_wide_sum_or_are_rejected(
            lines in prop::collection::vec((1i64..1000, 0i64..10_000_000), 1..20)
        ) {
            let items = lines.iter().map(|(q, a)| item(*q, *a)).collect();
            let wide: i128 = lines.iter().map(|(q, a)| i128::from(*q) * i128::from(*a)).sum();
            match input(items).parse(None) {
                Ok(order) => {
                    prop_assert_eq!(i128::from(order.total.minor_units()), wide);
                    prop_assert!(wide > 0 && wide <= i128::from(MAX_TOTAL_MINOR_UNITS));
                }
                Err(_) => prop_assert!(wide == 0 || wide > i128::from(MAX_TOTAL_MINOR_UNITS)),
            }
        }
    }
}
