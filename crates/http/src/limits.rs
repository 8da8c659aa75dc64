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

/// How many clients' buckets are kept at most: a flood from many addresses cannot grow
/// memory without bound.
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

/// The buckets in two generations, each of at most half the cap: a client is looked up in
/// the current one, then in the previous one (and moved to the current); when the current
/// one is full it becomes the previous one and the old previous one is dropped whole. So the
/// map never holds more than the cap, keeps every client seen in the last half-cap of new
/// clients, and evicts in constant time per request (amortised), never by a scan.
struct Generations<K> {
    current: HashMap<K, Bucket>,
    previous: HashMap<K, Bucket>,
    half: usize,
}

impl<K: Hash + Eq + Clone> Generations<K> {
    fn get_mut(&mut self, client: &K) -> Option<&mut Bucket> {
        if !self.current.contains_key(client) {
            let moved = self.previous.remove(client)?;
            self.insert(client.clone(), moved);
        }
        self.current.get_mut(client)
    }

    fn insert(&mut self, client: K, bucket: Bucket) {
        if self.current.len() >= self.half {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(client, bucket);
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// Token buckets by client.
pub struct RateLimiter<K> {
    limit: Limit,
    buckets: Mutex<Generations<K>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(limit: Limit) -> Self {
        Self::with_capacity(limit, MAX_BUCKETS)
    }

    fn with_capacity(limit: Limit, capacity: usize) -> Self {
        Self {
            limit,
            buckets: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                half: (capacity / 2).max(1),
            }),
        }
    }

    /// Takes a token from `client`'s bucket at `now`, if there is one. `None` when unlimited.
    pub fn check(&self, client: &K, now: Instant) -> Option<Verdict> {
        let Limit { per_second, burst } = self.limit;
        if per_second <= 0.0 {
            return None;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.get_mut(client).is_none() {
            buckets.insert(
                client.clone(),
                Bucket {
                    tokens: burst,
                    at: now,
                },
            );
        }
        let bucket = buckets.get_mut(client)?;
        let verdict = self.refill(bucket, now, true);
        Some(verdict)
    }

    /// The refusal `client` would get at `now` were it to take a token, without taking one
    /// (nor making a bucket): `None` while it has a token, or when unlimited.
    pub fn refuses(&self, client: &K, now: Instant) -> Option<Verdict> {
        if self.limit.per_second <= 0.0 {
            return None;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.get_mut(client)?;
        Some(self.refill(bucket, now, false)).filter(|v| !v.allowed)
    }

    /// Refills `bucket` up to `now`, takes a token if `take` and there is one, and says so.
    fn refill(&self, bucket: &mut Bucket, now: Instant, take: bool) -> Verdict {
        let Limit { per_second, burst } = self.limit;
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed && take {
            bucket.tokens -= 1.0;
        }
        let seconds =
            |tokens: f64| Duration::from_secs_f64((tokens.max(0.0) / per_second).min(86_400.0));
        Verdict {
            allowed,
            limit: burst as u64,
            remaining: bucket.tokens.floor() as u64,
            reset: seconds(burst - bucket.tokens),
            retry_after: if allowed {
                Duration::ZERO
            } else {
                seconds(1.0 - bucket.tokens)
            },
        }
    }

    /// How many clients have a bucket.
    pub fn clients(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
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
    /// Failed authentications (an unknown or revoked key) per client address; past it, the
    /// address's keys are not looked up at all until its bucket refills.
    pub failed_auth: Limit,
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
        failed_auth: Limit {
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
    pub failed_auth: RateLimiter<IpAddr>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            per_key: RateLimiter::new(settings.per_key),
            per_address: RateLimiter::new(settings.per_address),
            failed_auth: RateLimiter::new(settings.failed_auth),
        }
    }
}

/// The client's address, as the limits count it: the peer's, or, behind `trusted` proxies
/// that each append to `X-Forwarded-For`, the entry that many places from the end of all its
/// lines read in order (what the first trusted proxy saw; a proxy may add a line of its own
/// rather than append to the client's, and entries before it are the client's word, and
/// could be anything). An IPv6 client counts as its /64, which one host usually has whole.
pub fn client_address<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: usize,
) -> Option<IpAddr> {
    let address = if trusted == 0 {
        peer
    } else {
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .collect();
        if hops.is_empty() {
            peer
        } else {
            hops.len()
                .checked_sub(trusted)
                .and_then(|i| hops.get(i))
                .and_then(|hop| hop.parse().ok())
                .or(peer)
        }
    };
    address.map(per_host)
}

/// An IPv4 address as it is; an IPv6 one as its /64 (an IPv4-mapped one as the IPv4).
fn per_host(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
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
        assert_eq!(client_address(Some(peer), ["1.2.3.4"], 0), Some(peer));
        // A client that writes its own X-Forwarded-For cannot choose its address.
        assert_eq!(
            client_address(Some(peer), ["1.2.3.4, 203.0.113.7"], 1),
            Some(client)
        );
        assert_eq!(client_address(Some(peer), [], 1), Some(peer));
        assert_eq!(client_address(Some(peer), ["garbage"], 1), Some(peer));
    }

    #[test]
    fn every_forwarded_for_line_is_read_and_the_trusted_proxys_entry_is_taken() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        // HAProxy adds a line of its own after the client's forged one.
        assert_eq!(
            client_address(Some(peer), ["6.6.6.6", "203.0.113.7"], 1),
            Some(client)
        );
        assert_eq!(
            client_address(Some(peer), ["6.6.6.6, 7.7.7.7", "203.0.113.7, 10.0.0.9"], 2),
            Some(client)
        );
    }

    #[test]
    fn an_ipv6_client_counts_as_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let of = |ip| client_address(Some(ip), [], 0).unwrap();
        assert_eq!(of(a), of(b));
        assert_ne!(of(a), of(other));
        assert_eq!(of(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(of(mapped), "203.0.113.7".parse::<IpAddr>().unwrap());
        let limiter = RateLimiter::new(Limit {
            per_second: 1.0,
            burst: 1.0,
        });
        let now = Instant::now();
        assert!(limiter.check(&of(a), now).unwrap().allowed);
        assert!(!limiter.check(&of(b), now).unwrap().allowed, "the same /64");
    }

    #[test]
    fn the_bucket_map_never_passes_its_cap_and_keeps_recent_clients() {
        let limiter = RateLimiter::with_capacity(
            Limit {
                per_second: 1.0,
                burst: 1.0,
            },
            100,
        );
        let now = Instant::now();
        assert!(limiter.check(&0u32, now).unwrap().allowed);
        for client in 1..10_000u32 {
            limiter.check(&client, now);
            // A client seen recently keeps its (empty) bucket.
            if client % 10 == 0 {
                assert!(!limiter.check(&(client - 1), now).unwrap().allowed);
            }
            assert!(limiter.clients() <= 100, "{}", limiter.clients());
        }
    }

    #[test]
    fn refuses_says_without_taking() {
        let limiter = RateLimiter::new(Limit {
            per_second: 1.0,
            burst: 2.0,
        });
        let now = Instant::now();
        assert_eq!(limiter.refuses(&"a", now), None, "no bucket yet");
        limiter.check(&"a", now);
        assert_eq!(limiter.refuses(&"a", now), None, "one token left");
        limiter.check(&"a", now);
        let refused = limiter.refuses(&"a", now).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert!(
            limiter
                .check(&"a", now + Duration::from_secs(1))
                .unwrap()
                .allowed
        );
    }
}
