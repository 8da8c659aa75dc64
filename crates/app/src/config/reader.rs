//! Reading settings: each variable parsed, every problem kept, no secret echoed.

/// Reads the variables through `var`, so tests can pass a map instead of the process
/// environment.
pub(super) struct Reader<'a> {
    pub(super) var: &'a dyn Fn(&str) -> Option<String>,
    pub(super) problems: Vec<String>,
}

impl Reader<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.var)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn parse<T>(
        &mut self,
        name: &str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T
    where
        T: Clone,
    {
        match self.get(name) {
            None => default,
            Some(raw) => match parse(&raw) {
                Ok(v) => v,
                // A URL may hold a token or a password, a key is a secret: never echoed.
                Err(why) if may_hold_a_secret(name) => {
                    self.problems.push(format!("{name}: {why}"));
                    default
                }
                Err(why) => {
                    self.problems.push(format!("{name}={raw:?}: {why}"));
                    default
                }
            },
        }
    }

    pub(super) fn number<T>(&mut self, name: &str, default: T, min: T) -> T
    where
        T: std::str::FromStr + Clone + PartialOrd + std::fmt::Display,
    {
        let floor = min.clone();
        self.parse(name, default, move |raw| match raw.parse::<T>() {
            Ok(v) if v >= floor => Ok(v),
            _ => Err(format!("must be a whole number of at least {floor}")),
        })
    }

    /// A whole number from `min` to `max`.
    pub(super) fn bounded<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: std::str::FromStr + Clone + PartialOrd + std::fmt::Display,
    {
        let (floor, ceiling) = (min.clone(), max.clone());
        self.parse(name, default, move |raw| match raw.parse::<T>() {
            Ok(v) if v >= floor && v <= ceiling => Ok(v),
            _ => Err(format!("must be a whole number from {floor} to {ceiling}")),
        })
    }
}

/// Whether a variable's value may hold a secret (a key, or a URL with a password or token),
/// so that an error about it must not repeat the value.
fn may_hold_a_secret(name: &str) -> bool {
    ["_URL", "_KEY", "_SECRET", "_BASE", "_TOKEN"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// An absolute `http(s)` URL with a host, parsed by the `url` crate and written as it
/// normalizes it, without a trailing slash; in production only `https`. The one URL check of the settings (`PUBLIC_BASE_URL`,
/// `STRIPE_API_BASE`, `CUSTOMER_DIRECTORY_URL`).
pub(super) fn base_url(raw: &str, production: bool) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute http(s) URL".to_string())?;
    match url.scheme() {
        _ if !url.has_host() => Err("must be an absolute http(s) URL".into()),
        "https" => Ok(url.as_str().trim_end_matches('/').to_owned()),
        "http" if !production => Ok(url.as_str().trim_end_matches('/').to_owned()),
        "http" => Err("must be an https URL in production".into()),
        _ => Err("must be an absolute http(s) URL".into()),
    }
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.0/8`, `[::1]`): only a
/// developer can open pages there.
pub(super) fn is_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(super) fn boolean(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_is_an_absolute_http_url_with_a_host() {
        assert_eq!(
            base_url("https://pay.example.com/", true).as_deref(),
            Ok("https://pay.example.com")
        );
        assert_eq!(
            base_url("http://localhost:8080", false).as_deref(),
            Ok("http://localhost:8080")
        );
        assert!(
            base_url("http://pay.example.com", true).is_err(),
            "https in production"
        );
        assert_eq!(
            base_url("HTTPS:Pay.Example.com:443/shop/", false).as_deref(),
            Ok("https://pay.example.com/shop"),
            "as the url crate (and a browser) reads it"
        );
        for bad in [
            "pay.example.com",
            "https://",
            "ftp://example.com",
            "/pay",
            "",
        ] {
            assert!(base_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_is_this_machine_by_name_or_address() {
        for local in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://127.0.0.5/x",
            "http://[::1]:9/",
            "http://user:pw@localhost:1",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "https://pay.example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "nonsense",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}
