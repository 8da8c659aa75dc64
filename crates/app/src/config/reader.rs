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
}

/// Whether a variable's value may hold a secret (a key, or a URL with a password or token),
/// so that an error about it must not repeat the value.
fn may_hold_a_secret(name: &str) -> bool {
    ["_URL", "_KEY", "_SECRET", "_BASE", "_TOKEN"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// An absolute `http(s)` URL without a trailing slash; in production only `https`.
pub(super) fn base_url(raw: &str, production: bool) -> Result<String, String> {
    match raw.split_once("://") {
        Some(("https", rest)) if !rest.is_empty() => Ok(raw.trim_end_matches('/').to_owned()),
        Some(("http", rest)) if !rest.is_empty() && !production => {
            Ok(raw.trim_end_matches('/').to_owned())
        }
        Some(("http", _)) => Err("must be an https URL in production".into()),
        _ => Err("must be an absolute http(s) URL".into()),
    }
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.0/8`, `[::1]`): only a
/// developer can open pages there.
pub(super) fn is_loopback(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn boolean(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}
