//! Cursor pagination as Stripe does it: `limit`, `starting_after` an object id, `has_more`.

use uuid::Uuid;

/// How many objects a page holds: 1 to 100, 10 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u16);

impl Limit {
    pub const MAX: u16 = 100;
    pub const DEFAULT: Limit = Limit(10);

    pub fn parse(value: i64) -> Result<Self, String> {
        if (1..=i64::from(Self::MAX)).contains(&value) {
            Ok(Self(value as u16))
        } else {
            Err(format!("must be between 1 and {}", Self::MAX))
        }
    }

    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which page to read: at most `limit` objects, after the object `starting_after` in list order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: Limit,
    pub starting_after: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows read in list order: the extra row only says
    /// that there is more.
    pub fn from_overfetch(mut rows: Vec<T>, limit: Limit) -> Self {
        let has_more = rows.len() > limit.get();
        rows.truncate(limit.get());
        Self {
            data: rows,
            has_more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_accepts_1_to_100_only() {
        assert!(Limit::parse(0).is_err());
        assert!(Limit::parse(101).is_err());
        assert!(Limit::parse(-1).is_err());
        assert_eq!(Limit::parse(100).unwrap().get(), 100);
    }

    #[test]
    fn overfetched_row_sets_has_more_and_is_dropped() {
        let limit = Limit::parse(2).unwrap();
        let page = Page::from_overfetch(vec![1, 2, 3], limit);
        assert_eq!(page.data, vec![1, 2]);
        assert!(page.has_more);
        let page = Page::from_overfetch(vec![1, 2], limit);
        assert!(!page.has_more);
    }
}
