//! The order status machine. Every change of status goes through [`OrderStatus::apply`].

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    PartiallyRefunded,
    Refunded,
    Cancelled,
}

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusEvent {
    Cancel,
    PaymentSucceeded,
    PartialRefund,
    FullRefund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {from} cannot take {event:?}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub event: StatusEvent,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        Self::PendingPayment,
        Self::Paid,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Cancelled,
    ];

    /// The status after `event`, or why `event` cannot happen now.
    pub fn apply(self, event: StatusEvent) -> Result<OrderStatus, IllegalTransition> {
        use OrderStatus::*;
        use StatusEvent::*;
        match (self, event) {
            (PendingPayment, Cancel) => Ok(Cancelled),
            (PendingPayment, PaymentSucceeded) => Ok(Paid),
            (Paid | PartiallyRefunded, PartialRefund) => Ok(PartiallyRefunded),
            (Paid | PartiallyRefunded, FullRefund) => Ok(Refunded),
            (from, event) => Err(IllegalTransition { from, event }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == input)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::StatusEvent::*;
    use super::*;

    #[test]
    fn legal_transitions() {
        assert_eq!(PendingPayment.apply(Cancel), Ok(Cancelled));
        assert_eq!(PendingPayment.apply(PaymentSucceeded), Ok(Paid));
        assert_eq!(Paid.apply(PartialRefund), Ok(PartiallyRefunded));
        assert_eq!(Paid.apply(FullRefund), Ok(Refunded));
        assert_eq!(
            PartiallyRefunded.apply(PartialRefund),
            Ok(PartiallyRefunded)
        );
        assert_eq!(PartiallyRefunded.apply(FullRefund), Ok(Refunded));
    }

    #[test]
    fn everything_else_is_illegal_and_names_where_it_came_from() {
        let legal = [
            (PendingPayment, Cancel),
            (PendingPayment, PaymentSucceeded),
            (Paid, PartialRefund),
            (Paid, FullRefund),
            (PartiallyRefunded, PartialRefund),
            (PartiallyRefunded, FullRefund),
        ];
        for from in OrderStatus::ALL {
            for event in [Cancel, PaymentSucceeded, PartialRefund, FullRefund] {
                if !legal.contains(&(from, event)) {
                    assert_eq!(from.apply(event), Err(IllegalTransition { from, event }));
                }
            }
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Ok(s));
        }
        assert!(OrderStatus::parse("PAID").is_err());
    }
}
