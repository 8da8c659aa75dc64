//! Rate limits: a token bucket per API key on `/v1`, and per client address on the routes
//! that need no key (the pay link, the sandbox's pages, `/readyz`, Stripe's webhook). Those
//! routes also run on a database pool of their own (see `AppState::public`), so that a flood
//! of them can never take the connections keyed calls need.
//!
//! A bucket holds up to `burst` requests and refills at `per_second`; a request takes one.
//! Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds
//! until the bucket is full again); a refused one is `429 rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use actix_web::ResponseError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::problem::{Code, Problem};

/// How many clients' buckets are kept before full (idle) ones are dropped: a flood from many
/// addresses cannot grow memory without bound.
const MAX_BUCKETS: usize = 100_000;

/// A limit: `per_second` on average, `burst` at once. `per_second == 0` is no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What a bucket said to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Until the bucket is full again.
    pub reset: Duration,
    /// Until one request would be allowed (zero when this one was).
    pub retry_after: Duration,
}

/// Token buckets by client.
pub struct RateLimiter<K> {
    limit: Limit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `client`'s bucket at `now`, if there is one. `None` when unlimited.
    pub fn check(&self, client: &K, now: Instant) -> Option<Verdict> {
        let Limit { per_second, burst } = self.limit;
        if per_second <= 0.0 {
            return None;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(client) {
            let full = |b: &Bucket| {
                b.tokens + per_second * now.duration_since(b.at).as_secs_f64() >= burst
            };
            buckets.retain(|_, b| !full(b));
        }
        let bucket = buckets.entry(client.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let seconds =
            |tokens: f64| Duration::from_secs_f64((tokens.max(0.0) / per_second).min(86_400.0));
        Some(Verdict {
            allowed,
            limit: burst as u64,
            remaining: bucket.tokens.floor() as u64,
            reset: seconds(burst - bucket.tokens),
            retry_after: if allowed {
                Duration::ZERO
            } else {
                seconds(1.0 - bucket.tokens)
            },
        })
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Writes the `RateLimit-*` headers of `verdict` into `headers`.
pub fn write_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    for (name, value) in [
        ("ratelimit-limit", verdict.limit),
        ("ratelimit-remaining", verdict.remaining),
        ("ratelimit-reset", whole_seconds(verdict.reset)),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// The answer to a refused request: 429 with `Retry-After` and the `RateLimit-*` headers.
pub fn refused(verdict: &Verdict) -> HttpResponse {
    let wait = whole_seconds(verdict.retry_after).max(1);
    let mut response = Problem::new(
        Code::RateLimited,
        format!("too many requests; retry in {wait} s"),
    )
    .error_response();
    write_headers(response.headers_mut(), verdict);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// The settings of every limit.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Per API key, on `/v1`.
    pub per_key: Limit,
    /// Per client address, on the routes that need no key.
    pub per_address: Limit,
    /// How many proxies in front of the service append to `X-Forwarded-For` (0: the peer's
    /// own address is the client's).
    pub trusted_proxies: usize,
}

impl LimitSettings {
    /// No limits (tests of other things).
    pub const NONE: LimitSettings = LimitSettings {
        per_key: Limit {
            per_second: 0.0,
            burst: 0.0,
        },
        per_address: Limit {
            per_second: 0.0,
            burst: 0.0,
        },
        trusted_proxies: 0,
    };
}

/// The limiters a running service shares across workers.
pub struct Limits {
    pub settings: LimitSettings,
    pub per_key: RateLimiter<uuid::Uuid>,
    pub per_address: RateLimiter<IpAddr>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            per_key: RateLimiter::new(settings.per_key),
            per_address: RateLimiter::new(settings.per_address),
        }
    }
}

/// The client's address: the peer's, or, behind `trusted` proxies that each append to
/// `X-Forwarded-For`, the entry that many places from its end (what the first trusted proxy
/// saw; entries before it are the client's word, and could be anything).
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: usize,
) -> Option<IpAddr> {
    if trusted == 0 {
        return peer;
    }
    let Some(forwarded_for) = forwarded_for else {
        return peer;
    };
    let hops: Vec<&str> = forwarded_for.split(',').map(str::trim).collect();
    hops.len()
        .checked_sub(trusted)
        .and_then(|i| hops.get(i))
        .and_then(|hop| hop.parse().ok())
        .or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new(Limit {
            per_second: 2.0,
            burst: 3.0,
        });
        let start = Instant::now();
        for remaining in [2, 1, 0] {
            let v = limiter.check(&"a", start).unwrap();
            assert!(v.allowed);
            assert_eq!(v.remaining, remaining);
        }
        let refused = limiter.check(&"a", start).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        assert!(
            limiter.check(&"b", start).unwrap().allowed,
            "another client, another bucket"
        );
        let later = start + Duration::from_millis(500);
        assert!(
            limiter.check(&"a", later).unwrap().allowed,
            "one token back after 0.5 s"
        );
        assert!(!limiter.check(&"a", later).unwrap().allowed);
        let unlimited = RateLimiter::new(Limit {
            per_second: 0.0,
            burst: 0.0,
        });
        assert_eq!(unlimited.check(&"a", start), None);
    }

    #[test]
    fn refused_answers_say_when_to_retry() {
        let limiter = RateLimiter::new(Limit {
            per_second: 0.5,
            burst: 1.0,
        });
        let now = Instant::now();
        limiter.check(&1, now);
        let verdict = limiter.check(&1, now).unwrap();
        let response = refused(&verdict);
        assert_eq!(response.status(), 429);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header("retry-after"), "2");
        assert_eq!(header("ratelimit-limit"), "1");
        assert_eq!(header("ratelimit-remaining"), "0");
    }

    #[test]
    fn the_client_address_is_the_peer_or_what_the_trusted_proxy_saw() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(client_address(Some(peer), Some("1.2.3.4"), 0), Some(peer));
        // A client that writes its own X-Forwarded-For cannot choose its address.
        assert_eq!(
            client_address(Some(peer), Some("1.2.3.4, 203.0.113.7"), 1),
            Some(client)
        );
        assert_eq!(client_address(Some(peer), None, 1), Some(peer));
        assert_eq!(client_address(Some(peer), Some("garbage"), 1), Some(peer));
    }
}
