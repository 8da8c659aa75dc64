//! One event's delivery to one endpoint: its attempts, when the next is due, and what each
//! attempt's outcome makes of it and of the endpoint.

use chrono::{DateTime, TimeDelta, Utc};

use super::endpoint::{EndpointStatus, WebhookEndpoint, WebhookEndpointId};
use crate::order::{OrderEventId, OrderEventType};

entity_id!(
    /// One event's delivery to one endpoint.
    DeliveryId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Due now or later.
    Pending,
    Succeeded,
    /// The retry schedule ran out.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(stored: &str) -> Result<Self, String> {
        match stored {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(format!("`{other}` is not a delivery status")),
        }
    }
}

/// What one attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status; `None` when there was no answer (refused, timed out).
    pub status: Option<u16>,
    pub duration: TimeDelta,
    /// The start of the receiver's answer, at most [`Attempt::MAX_RESPONSE_CHARS`].
    pub response: String,
    /// Why there was no answer, or why it was refused before sending.
    pub error: Option<String>,
}

impl Attempt {
    pub const MAX_RESPONSE_CHARS: usize = 1024;

    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// A receiver's answer (any bytes) as the text kept of it: its start, at most
    /// [`MAX_RESPONSE_CHARS`](Self::MAX_RESPONSE_CHARS), invalid UTF-8 and NUL (which text in
    /// PostgreSQL cannot hold) each replaced by U+FFFD. Storing it can then never fail.
    pub fn answer_text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes)
            .chars()
            .take(Self::MAX_RESPONSE_CHARS)
            .map(|c| {
                if c == '\0' {
                    char::REPLACEMENT_CHARACTER
                } else {
                    c
                }
            })
            .collect()
    }
}

/// A delivery as the API lists it, with its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: OrderEventId,
    pub event_type: OrderEventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt: Option<Attempt>,
    pub created_at: DateTime<Utc>,
}

/// When failed attempts are tried again: `WEBHOOK_RETRY_SCHEDULE`, comma-separated durations
/// (`500ms`, `5s`, `5m`, `2h`, `1d`), each the wait after one more failure, with ±10% jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<TimeDelta>);

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::parse("5s,5m,30m,2h,5h,10h,10h").expect("the default schedule parses")
    }
}

impl RetrySchedule {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let waits = raw
            .split(',')
            .map(|part| parse_duration(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if waits.len() > 20 {
            return Err("must have at most 20 retries".into());
        }
        Ok(Self(waits))
    }

    /// After `attempts` failed attempts, when the next is due (`jitter` in 0..1 spreads it by
    /// ±10%); `None` once the schedule is spent.
    pub fn next_after(
        &self,
        attempts: u32,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let wait = self.0.get(index)?;
        let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
        let micros = (wait.num_microseconds().unwrap_or(i64::MAX) as f64 * factor) as i64;
        Some(now + TimeDelta::microseconds(micros))
    }
}

fn parse_duration(part: &str) -> Result<TimeDelta, String> {
    let split = part
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{part}` needs a unit: ms, s, m, h or d"))?;
    let (number, unit) = part.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{part}` must start with a whole number"))?;
    let wait = match unit {
        "ms" => TimeDelta::try_milliseconds(n),
        "s" => TimeDelta::try_seconds(n),
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        _ => None,
    };
    match wait {
        Some(w) if w > TimeDelta::zero() && w <= TimeDelta::days(7) => Ok(w),
        _ => Err(format!(
            "`{part}` must be a positive duration of at most 7d (units ms, s, m, h, d)"
        )),
    }
}

/// What an attempt makes of the endpoint's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointHealth {
    /// It answered 2xx: not failing.
    Healthy,
    /// Failing since then, with no success in between.
    FailingSince(DateTime<Utc>),
    /// Failing for longer than allowed: orderpay disables it, for this reason.
    Disable(String),
}

impl EndpointHealth {
    /// What several attempts to one endpoint, recorded together, make of it: disabled if any
    /// says so, healthy if any got a 2xx (it answers), else failing since the earliest failure.
    pub fn combine(healths: impl IntoIterator<Item = EndpointHealth>) -> Option<EndpointHealth> {
        healths.into_iter().reduce(|a, b| match (a, b) {
            (d @ EndpointHealth::Disable(_), _) | (_, d @ EndpointHealth::Disable(_)) => d,
            (EndpointHealth::Healthy, _) | (_, EndpointHealth::Healthy) => EndpointHealth::Healthy,
            (EndpointHealth::FailingSince(a), EndpointHealth::FailingSince(b)) => {
                EndpointHealth::FailingSince(a.min(b))
            }
        })
    }

    /// What this makes of `endpoint`: healthy clears its failure, a failure is kept from when
    /// it began, disabling disables. Returns whether that changed anything: only a change is
    /// written (and moves the endpoint's version), so an endpoint answering well costs its
    /// row no write per delivery, and an edit made meanwhile is not refused for it.
    pub fn apply_to(&self, endpoint: &mut WebhookEndpoint) -> bool {
        match self {
            EndpointHealth::Healthy => endpoint.failing_since.take().is_some(),
            EndpointHealth::FailingSince(since) => {
                if endpoint.failing_since.is_some() {
                    return false;
                }
                endpoint.failing_since = Some(*since);
                true
            }
            EndpointHealth::Disable(reason) => {
                if endpoint.status == EndpointStatus::Disabled {
                    return false;
                }
                endpoint.status = EndpointStatus::Disabled;
                endpoint.disabled_reason = Some(reason.clone());
                true
            }
        }
    }
}

/// An attempt's consequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub endpoint: EndpointHealth,
}

/// The rules of retrying: a 2xx succeeds; anything else is tried again on the schedule, and
/// fails once it is spent. An endpoint failing without one success for `disable_after` is
/// disabled.
pub struct RetryRules {
    pub schedule: RetrySchedule,
    pub disable_after: TimeDelta,
}

impl RetryRules {
    /// `attempts` counts this one; `failing_since` is the endpoint's before it.
    pub fn judge(
        &self,
        attempt: &Attempt,
        attempts: u32,
        failing_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Verdict {
        if attempt.succeeded() {
            return Verdict {
                status: DeliveryStatus::Succeeded,
                next_attempt_at: None,
                endpoint: EndpointHealth::Healthy,
            };
        }
        let since = failing_since.unwrap_or(now);
        let endpoint = if now - since >= self.disable_after {
            EndpointHealth::Disable(format!(
                "no delivery succeeded since {}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ))
        } else {
            EndpointHealth::FailingSince(since)
        };
        let next = self.schedule.next_after(attempts, now, jitter);
        Verdict {
            status: if next.is_some() {
                DeliveryStatus::Pending
            } else {
                DeliveryStatus::Failed
            },
            next_attempt_at: next,
            endpoint,
        }
    }
}

#[cfg(test)]
mod answer_tests {
    use super::Attempt;

    #[test]
    fn any_answer_becomes_bounded_text_without_nul() {
        assert_eq!(Attempt::answer_text(b"ok\0done"), "ok\u{fffd}done");
        assert_eq!(
            Attempt::answer_text(&[b'o', 0xff, 0xfe, b'k']),
            "o\u{fffd}\u{fffd}k"
        );
        let huge = Attempt::answer_text(&vec![b'x'; 5 * 1024 * 1024]);
        assert_eq!(huge.chars().count(), Attempt::MAX_RESPONSE_CHARS);
        assert!(!Attempt::answer_text(&[0, 0, 0]).contains('\0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    fn answer(status: Option<u16>) -> Attempt {
        Attempt {
            status,
            duration: TimeDelta::milliseconds(12),
            response: String::new(),
            error: None,
        }
    }

    #[test]
    fn the_schedule_parses_units_and_refuses_nonsense() {
        let s = RetrySchedule::parse("500ms, 5s,5m,2h,1d").unwrap();
        assert_eq!(
            s.next_after(1, t0(), 0.5),
            Some(t0() + TimeDelta::milliseconds(500))
        );
        assert_eq!(s.next_after(5, t0(), 0.5), Some(t0() + TimeDelta::days(1)));
        assert_eq!(s.next_after(6, t0(), 0.5), None);
        for bad in ["", "5", "5x", "-5s", "0s", "8d", "s"] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RetrySchedule::default().0.len(), 7);
    }

    #[test]
    fn jitter_spreads_a_wait_by_ten_percent_either_way() {
        let s = RetrySchedule::parse("100s").unwrap();
        assert_eq!(
            s.next_after(1, t0(), 0.0),
            Some(t0() + TimeDelta::seconds(90))
        );
        assert_eq!(
            s.next_after(1, t0(), 1.0),
            Some(t0() + TimeDelta::seconds(110))
        );
    }

    #[test]
    fn a_2xx_succeeds_anything_else_retries_until_the_schedule_is_spent() {
        let rules = RetryRules {
            schedule: RetrySchedule::parse("5s,5m").unwrap(),
            disable_after: TimeDelta::days(5),
        };
        let ok = rules.judge(&answer(Some(204)), 3, Some(t0()), t0(), 0.5);
        assert_eq!(ok.status, DeliveryStatus::Succeeded);
        assert_eq!(ok.endpoint, EndpointHealth::Healthy);
        for failure in [answer(Some(500)), answer(Some(302)), answer(None)] {
            let first = rules.judge(&failure, 1, None, t0(), 0.5);
            assert_eq!(first.status, DeliveryStatus::Pending);
            assert_eq!(first.next_attempt_at, Some(t0() + TimeDelta::seconds(5)));
            assert_eq!(first.endpoint, EndpointHealth::FailingSince(t0()));
            let last = rules.judge(&failure, 3, Some(t0()), t0(), 0.5);
            assert_eq!(last.status, DeliveryStatus::Failed);
            assert_eq!(last.next_attempt_at, None);
        }
    }

    #[test]
    fn attempts_to_one_endpoint_recorded_together_make_one_health() {
        let later = t0() + TimeDelta::minutes(1);
        let failing = |at| EndpointHealth::FailingSince(at);
        assert_eq!(
            EndpointHealth::combine([failing(later), failing(t0())]),
            Some(failing(t0()))
        );
        assert_eq!(
            EndpointHealth::combine([failing(t0()), EndpointHealth::Healthy]),
            Some(EndpointHealth::Healthy)
        );
        let off = EndpointHealth::Disable("too long".into());
        assert_eq!(
            EndpointHealth::combine([EndpointHealth::Healthy, off.clone()]),
            Some(off)
        );
        assert_eq!(EndpointHealth::combine([]), None);
    }

    #[test]
    fn an_endpoint_failing_without_a_success_for_too_long_is_disabled() {
        let rules = RetryRules {
            schedule: RetrySchedule::default(),
            disable_after: TimeDelta::days(5),
        };
        let later = t0() + TimeDelta::days(5);
        let verdict = rules.judge(&answer(Some(503)), 2, Some(t0()), later, 0.5);
        assert!(matches!(verdict.endpoint, EndpointHealth::Disable(_)));
        let sooner = rules.judge(
            &answer(Some(503)),
            2,
            Some(t0()),
            later - TimeDelta::seconds(1),
            0.5,
        );
        assert_eq!(sooner.endpoint, EndpointHealth::FailingSince(t0()));
    }
}
