//! How a provider's event changes a payment and its order: one pure function, so every rule
//! is unit-tested without a store, and every adapter applies the same decision.

use chrono::{DateTime, Utc};

use super::{Payment, PaymentEventKind, PaymentStatus};
use crate::money::Amount;
use crate::order::{Order, OrderEvent, OrderEventType, OrderFlag, OrderStatus, StatusEvent};

/// What to write: the payment and order as they become (each `None` when unchanged) and the
/// history entries that record it. An empty decision is a stale or repeated event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub payment: Option<Payment>,
    pub order: Option<Order>,
    pub events: Vec<OrderEvent>,
}

impl Decision {
    pub fn is_noop(&self) -> bool {
        self.payment.is_none() && self.order.is_none() && self.events.is_empty()
    }
}

/// Applies `event` to `payment` and its `order` at `now`.
pub fn decide(
    order: &Order,
    payment: &Payment,
    event: &PaymentEventKind,
    now: DateTime<Utc>,
) -> Decision {
    let mut d = Draft::new(order, payment, now);
    match event {
        PaymentEventKind::SessionCompleted {
            paid: true,
            amount,
            currency,
            provider_payment_id,
            ..
        }
        | PaymentEventKind::AsyncPaymentSucceeded {
            amount,
            currency,
            provider_payment_id,
            ..
        } => d.succeeded(*amount, currency, provider_payment_id.as_deref()),
        PaymentEventKind::SessionCompleted {
            paid: false,
            provider_payment_id,
            ..
        } => d.processing(provider_payment_id.as_deref()),
        PaymentEventKind::AsyncPaymentFailed { .. } => {
            d.closed_unpaid(PaymentStatus::Failed, OrderEventType::PaymentFailed)
        }
        PaymentEventKind::SessionExpired { .. } => {
            d.closed_unpaid(PaymentStatus::Expired, OrderEventType::PaymentExpired)
        }
        PaymentEventKind::Refunded { refunded_total, .. } => d.refunded(*refunded_total),
        PaymentEventKind::DisputeCreated { reason, .. } => {
            d.flag(OrderFlag::Disputed, format!("disputed: {reason}"))
        }
    }
    d.finish()
}

/// The decision being built, on copies of the rows.
struct Draft {
    order: Order,
    payment: Payment,
    order_changed: bool,
    payment_changed: bool,
    events: Vec<OrderEvent>,
    now: DateTime<Utc>,
}

impl Draft {
    fn new(order: &Order, payment: &Payment, now: DateTime<Utc>) -> Self {
        Self {
            order: order.clone(),
            payment: payment.clone(),
            order_changed: false,
            payment_changed: false,
            events: Vec::new(),
            now,
        }
    }

    fn event(&mut self, kind: OrderEventType) -> &mut OrderEvent {
        self.events
            .push(OrderEvent::new(self.order.id(), kind, self.now).for_payment(self.payment.id));
        self.events.last_mut().expect("just pushed")
    }

    fn set_payment_status(&mut self, status: PaymentStatus) {
        self.payment.status = status;
        self.payment.updated_at = self.now;
        self.payment_changed = true;
    }

    fn flag(&mut self, flag: OrderFlag, reason: String) {
        if self.order.flag(flag, self.now) {
            self.order_changed = true;
            self.event(OrderEventType::Flagged).reason = Some(reason);
        }
    }

    /// The money is in. Recorded on the payment whatever else is true; the order is paid only
    /// when the amount and currency are exactly the order's and it still awaits payment.
    fn succeeded(&mut self, amount: i64, currency: &str, provider_payment_id: Option<&str>) {
        if self.payment.status == PaymentStatus::Succeeded {
            return; // a repeat (completed, then async succeeded, or twice): nothing new
        }
        let received = Amount::new(amount).unwrap_or(Amount::ZERO);
        self.payment.amount_received = received;
        if let Some(id) = provider_payment_id {
            self.payment.provider_payment_id = Some(id.to_owned());
        }
        self.set_payment_status(PaymentStatus::Succeeded);
        let matches = amount == self.payment.amount.minor_units()
            && currency.eq_ignore_ascii_case(self.payment.currency.code())
            && self.payment.amount == self.order.total()
            && self.payment.currency == self.order.currency();
        if !matches {
            self.flag(
                OrderFlag::AmountMismatch,
                format!(
                    "paid {amount} {currency}, expected {} {}",
                    self.order.total(),
                    self.order.currency()
                ),
            );
            return;
        }
        match self.order.status() {
            OrderStatus::PendingPayment => {
                if self
                    .order
                    .transition(StatusEvent::PaymentSucceeded, self.now)
                    .is_ok()
                {
                    self.order_changed = true;
                    self.event(OrderEventType::Paid).amount = Some(received);
                }
            }
            OrderStatus::Cancelled => self.flag(
                OrderFlag::NeedsRefund,
                "paid after the order was cancelled: refund it".into(),
            ),
            _ => self.flag(
                OrderFlag::NeedsRefund,
                "paid twice: refund the second payment".into(),
            ),
        }
    }

    /// Checkout finished with a delayed method: wait for the async outcome.
    fn processing(&mut self, provider_payment_id: Option<&str>) {
        if matches!(
            self.payment.status,
            PaymentStatus::Pending | PaymentStatus::Open | PaymentStatus::Expired
        ) {
            if let Some(id) = provider_payment_id {
                self.payment.provider_payment_id = Some(id.to_owned());
            }
            self.set_payment_status(PaymentStatus::Processing);
        }
    }

    /// Failed or expired: only an attempt still open can close so; after success it is stale.
    fn closed_unpaid(&mut self, status: PaymentStatus, kind: OrderEventType) {
        let closable = match status {
            PaymentStatus::Expired => {
                matches!(
                    self.payment.status,
                    PaymentStatus::Pending | PaymentStatus::Open
                )
            }
            _ => self.payment.status.is_open(),
        };
        if closable {
            self.set_payment_status(status);
            self.event(kind);
        }
    }

    /// `refunded_total` refunded so far, as the provider counts it. Repeats and reordered
    /// events (a smaller total after a larger one) change nothing.
    fn refunded(&mut self, refunded_total: i64) {
        let Ok(total) = Amount::new(refunded_total) else {
            return;
        };
        if self.payment.status != PaymentStatus::Succeeded || total <= self.payment.amount_refunded
        {
            return;
        }
        self.payment.amount_refunded = total;
        self.payment.updated_at = self.now;
        self.payment_changed = true;
        let paid = self.payment.amount_received;
        if self.order.record_refund(total, paid, self.now).is_ok() {
            self.order_changed = true;
            let kind = if total >= paid {
                OrderEventType::Refunded
            } else {
                OrderEventType::PartiallyRefunded
            };
            self.event(kind).amount = Some(total);
        }
    }

    fn finish(self) -> Decision {
        Decision {
            payment: self.payment_changed.then_some(self.payment),
            order: self.order_changed.then_some(self.order),
            events: self.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::CustomerId;
    use crate::order::{OrderCustomer, OrderReference, order_of};
    use crate::payment::{PaymentId, PaymentProvider, SessionRef};
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::TimeDelta::seconds(seconds)
    }

    /// A pending order of 1200 eur.
    fn world() -> (Order, Payment) {
        let new = order_of(
            OrderCustomer::Id(CustomerId::generate()),
            "eur",
            &[("Tea", 2, 600)],
            Default::default(),
        )
        .unwrap();
        let o = Order::create(
            new,
            CustomerId::generate(),
            OrderReference::parse("AAAA-BBBB").unwrap(),
            at(0),
        );
        let mut p = Payment::start(&o, PaymentProvider::Sandbox, at(1));
        p.status = PaymentStatus::Open;
        (o, p)
    }

    fn session(p: &Payment) -> SessionRef {
        SessionRef {
            session_id: "cs_1".into(),
            payment_id: p.id,
            order_id: p.order_id,
        }
    }

    fn completed(p: &Payment, amount: i64, currency: &str) -> PaymentEventKind {
        PaymentEventKind::SessionCompleted {
            session: session(p),
            paid: true,
            amount,
            currency: currency.into(),
            provider_payment_id: Some("pi_1".into()),
        }
    }

    fn types(d: &Decision) -> Vec<OrderEventType> {
        d.events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn a_paid_completion_pays_the_order_once() {
        let (o, p) = world();
        let d = decide(&o, &p, &completed(&p, 1200, "eur"), at(2));
        assert_eq!(d.order.as_ref().unwrap().status(), OrderStatus::Paid);
        let paid = d.payment.as_ref().unwrap();
        assert_eq!(paid.status, PaymentStatus::Succeeded);
        assert_eq!(paid.provider_payment_id.as_deref(), Some("pi_1"));
        assert_eq!(types(&d), [OrderEventType::Paid]);
        // The same outcome again (async succeeded after completed) is a no-op.
        let again = decide(
            d.order.as_ref().unwrap(),
            paid,
            &PaymentEventKind::AsyncPaymentSucceeded {
                session: session(&p),
                amount: 1200,
                currency: "eur".into(),
                provider_payment_id: Some("pi_1".into()),
            },
            at(3),
        );
        assert!(again.is_noop(), "{again:?}");
    }

    #[test]
    fn expired_after_succeeded_is_stale() {
        let (o, p) = world();
        let d = decide(&o, &p, &completed(&p, 1200, "eur"), at(2));
        let expired = PaymentEventKind::SessionExpired {
            session: session(&p),
        };
        let stale = decide(
            d.order.as_ref().unwrap(),
            d.payment.as_ref().unwrap(),
            &expired,
            at(3),
        );
        assert!(stale.is_noop());
    }

    #[test]
    fn async_success_before_completion_ends_paid() {
        let (o, p) = world();
        let success = PaymentEventKind::AsyncPaymentSucceeded {
            session: session(&p),
            amount: 1200,
            currency: "eur".into(),
            provider_payment_id: None,
        };
        let d = decide(&o, &p, &success, at(2));
        let unpaid_completion = PaymentEventKind::SessionCompleted {
            session: session(&p),
            paid: false,
            amount: 1200,
            currency: "eur".into(),
            provider_payment_id: None,
        };
        let later = decide(
            d.order.as_ref().unwrap(),
            d.payment.as_ref().unwrap(),
            &unpaid_completion,
            at(3),
        );
        assert!(later.is_noop());
        assert_eq!(d.order.unwrap().status(), OrderStatus::Paid);
    }

    #[test]
    fn a_delayed_method_waits_then_fails_leaving_the_order_payable() {
        let (o, p) = world();
        let unpaid = PaymentEventKind::SessionCompleted {
            session: session(&p),
            paid: false,
            amount: 1200,
            currency: "eur".into(),
            provider_payment_id: Some("pi_2".into()),
        };
        let d = decide(&o, &p, &unpaid, at(2));
        let processing = d.payment.unwrap();
        assert_eq!(processing.status, PaymentStatus::Processing);
        assert!(d.order.is_none());
        let failed = decide(
            &o,
            &processing,
            &PaymentEventKind::AsyncPaymentFailed {
                session: session(&p),
            },
            at(3),
        );
        assert_eq!(types(&failed), [OrderEventType::PaymentFailed]);
        assert_eq!(failed.payment.unwrap().status, PaymentStatus::Failed);
        assert!(failed.order.is_none());
    }

    #[test]
    fn a_mismatched_amount_or_currency_is_recorded_and_flagged_not_paid() {
        for (amount, currency) in [(1100, "eur"), (1200, "usd")] {
            let (o, p) = world();
            let d = decide(&o, &p, &completed(&p, amount, currency), at(2));
            assert_eq!(d.payment.as_ref().unwrap().status, PaymentStatus::Succeeded);
            assert_eq!(types(&d), [OrderEventType::Flagged]);
            let flagged = d.order.unwrap();
            assert_eq!(flagged.status(), OrderStatus::PendingPayment);
            assert!(flagged.flags().contains(&OrderFlag::AmountMismatch));
        }
    }

    #[test]
    fn money_for_a_cancelled_order_is_recorded_and_flagged_for_refund() {
        let (mut o, p) = world();
        o.transition(StatusEvent::Cancel, at(1)).unwrap();
        let d = decide(&o, &p, &completed(&p, 1200, "eur"), at(2));
        assert_eq!(d.payment.unwrap().status, PaymentStatus::Succeeded);
        let order = d.order.unwrap();
        assert_eq!(order.status(), OrderStatus::Cancelled);
        assert!(order.flags().contains(&OrderFlag::NeedsRefund));
    }

    #[test]
    fn partial_then_full_refund_then_a_stale_smaller_total() {
        let (o, p) = world();
        let paid = decide(&o, &p, &completed(&p, 1200, "eur"), at(2));
        let (o, p) = (paid.order.unwrap(), paid.payment.unwrap());
        let refund = |total| PaymentEventKind::Refunded {
            provider_payment_id: "pi_1".into(),
            refunded_total: total,
        };
        let partial = decide(&o, &p, &refund(500), at(3));
        let (o, p) = (partial.order.unwrap(), partial.payment.unwrap());
        assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
        assert_eq!(o.amount_refunded().minor_units(), 500);
        let full = decide(&o, &p, &refund(1200), at(4));
        assert_eq!(types(&full), [OrderEventType::Refunded]);
        let (o, p) = (full.order.unwrap(), full.payment.unwrap());
        assert_eq!(o.status(), OrderStatus::Refunded);
        assert!(decide(&o, &p, &refund(500), at(5)).is_noop());
        assert!(decide(&o, &p, &refund(1200), at(5)).is_noop());
    }

    #[test]
    fn a_dispute_flags_the_order_once() {
        let (o, p) = world();
        let dispute = PaymentEventKind::DisputeCreated {
            provider_payment_id: "pi_1".into(),
            reason: "fraudulent".into(),
        };
        let d = decide(&o, &p, &dispute, at(2));
        let flagged = d.order.unwrap();
        assert!(flagged.flags().contains(&OrderFlag::Disputed));
        assert!(decide(&flagged, &p, &dispute, at(3)).is_noop());
    }

    #[test]
    fn expiry_closes_only_an_open_attempt() {
        let (o, p) = world();
        let expired = PaymentEventKind::SessionExpired {
            session: session(&p),
        };
        let d = decide(&o, &p, &expired, at(2));
        assert_eq!(types(&d), [OrderEventType::PaymentExpired]);
        assert_eq!(d.payment.unwrap().status, PaymentStatus::Expired);
        let _ = PaymentId::generate();
    }
}
