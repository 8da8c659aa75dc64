//! Order references: 8 random Crockford base32 characters a person can read aloud, `K7M2-Q9XD`.

use std::fmt;

use rand::Rng;

use super::ReferenceGenerator;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderReference([u8; LEN]);

impl OrderReference {
    /// Reads a reference as a person may type it: any case, with or without the hyphen or
    /// spaces, `O` for `0` and `I` or `L` for `1`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut out = [0u8; LEN];
        let mut n = 0;
        for c in input.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(format!("`{c}` cannot appear in an order reference"));
            }
            if n == LEN {
                return Err(format!("an order reference has {LEN} characters"));
            }
            out[n] = c as u8;
            n += 1;
        }
        if n != LEN {
            return Err(format!("an order reference has {LEN} characters"));
        }
        Ok(Self(out))
    }

    /// A reference drawn from `rng`; pass a cryptographically secure one.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes.map(|b| ALPHABET[usize::from(b & 31)]))
    }

    /// The 8 characters without the hyphen, as stored.
    pub fn compact(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("????????")
    }
}

impl fmt::Display for OrderReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.compact();
        write!(f, "{}-{}", &s[..4], &s[4..])
    }
}

/// References from the operating system's CSPRNG (through rand's thread-local ChaCha generator).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomReferences;

impl ReferenceGenerator for RandomReferences {
    fn generate(&self) -> OrderReference {
        OrderReference::random(&mut rand::rng())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forgives_case_hyphens_spaces_and_look_alikes() {
        let r = OrderReference::parse("K7M2-Q9XD").unwrap();
        for input in ["k7m2q9xd", "K7M2 Q9XD", " k7m2-q9xd ", "k7M2-q9Xd"] {
            assert_eq!(OrderReference::parse(input).unwrap(), r, "{input}");
        }
        let ones = OrderReference::parse("0000-1111").unwrap();
        assert_eq!(OrderReference::parse("oOoO-iIlL").unwrap(), ones);
        assert_eq!(r.to_string(), "K7M2-Q9XD");
        assert_eq!(r.compact(), "K7M2Q9XD");
    }

    #[test]
    fn rejects_wrong_length_and_foreign_characters() {
        for bad in [
            "",
            "K7M2-Q9X",
            "K7M2-Q9XDD",
            "K7M2-Q9XU",
            "K7M2_Q9XD",
            "ÄÄÄÄ-ÄÄÄÄ",
        ] {
            assert!(OrderReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_references_vary() {
        let a: Vec<OrderReference> = (0..100).map(|_| RandomReferences.generate()).collect();
        let mut unique = a.clone();
        unique.sort_by_key(|r| r.0);
        unique.dedup();
        assert!(unique.len() > 95);
    }

    proptest! {
        #[test]
        fn display_parses_back(seed in any::<[u8; 8]>()) {
            let r = OrderReference(seed.map(|b| ALPHABET[usize::from(b & 31)]));
            prop_assert_eq!(OrderReference::parse(&r.to_string()).unwrap(), r);
            prop_assert_eq!(OrderReference::parse(&r.compact().to_lowercase()).unwrap(), r);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = OrderReference::parse(&s);
        }
    }
}
