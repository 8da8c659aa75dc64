//! The parameters of `DATABASE_URL` that tokio-postgres does not know (`sslmode`'s libpq
//! values, `sslrootcert`, `pgbouncer`), taken out of a URL or a key=value string.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OwnParam {
    Mode,
    RootCert,
    Pgbouncer,
}

/// Splits `sslmode`, `sslrootcert` and `pgbouncer` out of a URL's query or a key=value
/// string, returning the rest untouched (for tokio-postgres) and the values taken (percent-
/// or quote-decoded).
pub(super) fn take_own_params(url: &str) -> (String, Vec<(OwnParam, String)>) {
    let param = |key: &str| match key {
        "sslmode" => Some(OwnParam::Mode),
        "sslrootcert" => Some(OwnParam::RootCert),
        "pgbouncer" => Some(OwnParam::Pgbouncer),
        _ => None,
    };
    let mut taken = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), taken);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match param(key) {
                Some(p) => {
                    let decoded = url::form_urlencoded::parse(format!("v={value}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    taken.push((p, decoded));
                }
                None => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, taken);
    }
    // key=value form: `host=db sslmode=require sslrootcert='/etc/ssl/my ca.pem'`.
    let mut rest = String::new();
    for (key, raw, value) in key_value_pairs(url) {
        match param(key) {
            Some(p) => taken.push((p, value)),
            None => {
                rest.push_str(raw);
                rest.push(' ');
            }
        }
    }
    (rest.trim_end().to_owned(), taken)
}

/// The `key = value` pairs of a libpq connection string: (key, the pair as written, the value
/// unquoted). Malformed input yields what it can; tokio-postgres reports the rest.
fn key_value_pairs(s: &str) -> Vec<(&str, &str, String)> {
    let bytes = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            if !key.is_empty() {
                pairs.push((key, &s[start..i], String::new()));
            }
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let c = s[i..].chars().next().unwrap_or_default();
                value.push(c);
                i += c.len_utf8();
            }
            i += 1;
        } else {
            let value_start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            value.push_str(&s[value_start..i]);
        }
        pairs.push((key, &s[start..i.min(s.len())], value));
    }
    pairs
}
