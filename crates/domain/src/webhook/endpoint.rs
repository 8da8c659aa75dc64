//! A merchant's webhook endpoint: where events go, which ones, and whether it is on.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::address::is_public;
use crate::order::OrderEventType;

entity_id!(
    /// A webhook endpoint.
    WebhookEndpointId
);

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

impl EndpointStatus {
    pub const ALL: [EndpointStatus; 2] = [Self::Enabled, Self::Disabled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "enabled" => Ok(Self::Enabled),
            "disabled" => Ok(Self::Disabled),
            _ => Err("must be enabled or disabled".into()),
        }
    }
}

/// Which events an endpoint receives: all (`["*"]`), or the types it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelection {
    All,
    Only(Vec<OrderEventType>),
}

impl EventSelection {
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("must name at least one event type, or \"*\"".into());
        }
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 {
                Ok(Self::All)
            } else {
                Err("\"*\" stands alone: it already means every event type".into())
            };
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let kind = OrderEventType::parse(name).map_err(|_| {
                format!(
                    "`{name}` is not an event type; the types are {}",
                    OrderEventType::ALL.map(OrderEventType::as_str).join(", ")
                )
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        Ok(Self::Only(types))
    }

    /// As stored and shown: `["*"]` or the type names.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(types) => types.iter().map(|t| t.as_str()).collect(),
        }
    }

    pub fn includes(&self, kind: OrderEventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => types.contains(&kind),
        }
    }
}

/// Which URLs an endpoint may have: in production only `https` to a public host; in
/// development `http` and private addresses too, so tests and the sandbox work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    PublicHttpsOnly,
    AllowPrivate,
}

/// An endpoint's URL, checked against the [`UrlPolicy`]. A host name is checked again, as
/// the addresses it resolves to, when a delivery connects (against DNS rebinding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(raw: &str, policy: UrlPolicy) -> Result<Self, String> {
        if raw.is_empty() || raw.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be 1 to {} characters", Self::MAX_CHARS));
        }
        let url = url::Url::parse(raw).map_err(|e| format!("must be an absolute URL: {e}"))?;
        match (url.scheme(), policy) {
            ("https", _) | ("http", UrlPolicy::AllowPrivate) => {}
            ("http", UrlPolicy::PublicHttpsOnly) => return Err("must use https".into()),
            _ => return Err("must be an https URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let host = url.host_str().ok_or("must name a host")?;
        if policy == UrlPolicy::PublicHttpsOnly {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>()
                && !is_public(ip)
            {
                return Err(format!("must not point at a private address ({ip})"));
            }
            let lower = host.to_ascii_lowercase();
            if lower == "localhost" || lower.ends_with(".localhost") || lower.ends_with(".local") {
                return Err(format!("must not point at a local host ({host})"));
            }
        }
        Ok(Self(url.to_string()))
    }

    /// A URL read back from the store, checked when it was written.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An endpoint as stored. Its signing secret is not here: it is derived from the service's
/// key, the endpoint's id and `secret_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: EndpointUrl,
    pub description: Option<String>,
    pub enabled_events: EventSelection,
    pub status: EndpointStatus,
    pub secret_version: i32,
    /// Until then, deliveries are signed with the previous version's secret as well.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why orderpay disabled it, when it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Moves on with every write: a change is stored only over the version it was read at.
    pub version: i64,
}

impl WebhookEndpoint {
    /// The fan-out rule: an event goes to every endpoint that is enabled and subscribed to its
    /// type (or to `*`), when the event is written. (PostgreSQL's `DELIVERIES_OF_E` says the
    /// same in SQL; the webhooks contract holds both adapters to it.)
    pub fn receives(&self, kind: OrderEventType) -> bool {
        self.status == EndpointStatus::Enabled && self.enabled_events.includes(kind)
    }

    /// The secret versions a delivery at `now` is signed with: the current one, and the
    /// previous one while the rotation's overlap lasts.
    pub fn signing_versions(&self, now: DateTime<Utc>) -> Vec<i32> {
        match self.previous_secret_until {
            Some(until) if until > now && self.secret_version > 1 => {
                vec![self.secret_version, self.secret_version - 1]
            }
            _ => vec![self.secret_version],
        }
    }
}

/// A description: up to 500 characters, no control characters.
pub fn parse_description(raw: &str) -> Result<String, String> {
    if raw.chars().count() > 500 || raw.chars().any(char::is_control) {
        return Err("must be at most 500 characters, without control characters".into());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_urls_are_https_to_a_public_host() {
        let public = UrlPolicy::PublicHttpsOnly;
        assert!(EndpointUrl::parse("https://bot.example.com/hooks", public).is_ok());
        for refused in [
            "http://bot.example.com/hooks",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://localhost:8080/x",
            "https://user:pw@bot.example.com/",
            "ftp://bot.example.com/",
            "not a url",
        ] {
            assert!(EndpointUrl::parse(refused, public).is_err(), "{refused}");
        }
        let dev = UrlPolicy::AllowPrivate;
        assert!(EndpointUrl::parse("http://127.0.0.1:9000/hooks", dev).is_ok());
    }

    #[test]
    fn event_selection_is_all_or_known_types() {
        assert_eq!(
            EventSelection::parse(&["*".into()]),
            Ok(EventSelection::All)
        );
        let paid = EventSelection::parse(&["order.paid".into(), "order.paid".into()]).unwrap();
        assert_eq!(paid.names(), ["order.paid"]);
        assert!(paid.includes(OrderEventType::Paid));
        assert!(!paid.includes(OrderEventType::Created));
        assert!(EventSelection::parse(&[]).is_err());
        assert!(EventSelection::parse(&["*".into(), "order.paid".into()]).is_err());
        assert!(EventSelection::parse(&["order.shipped".into()]).is_err());
    }
}
