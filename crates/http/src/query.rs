//! Query strings: parsed leniently so every bad parameter is reported at once.

use std::collections::HashMap;

use actix_web::HttpRequest;
use uuid::Uuid;

use orderpay_domain::validation::Violations;
use orderpay_domain::{Limit, PageRequest};

use crate::problem::Problem;

pub struct Query {
    params: HashMap<String, String>,
    pub violations: Violations,
}

impl Query {
    /// The query of `req`, reporting any parameter not in `allowed`, given twice (never the
    /// last one silently), or given empty (as Stripe does: an empty value is not "absent").
    pub fn parse(req: &HttpRequest, allowed: &[&str]) -> Self {
        Self::of(req.query_string(), allowed)
    }

    fn of(query: &str, allowed: &[&str]) -> Self {
        let mut violations = Violations::new();
        let mut params = HashMap::new();
        let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(query) {
            Ok(pairs) => pairs,
            Err(e) => {
                violations.add("query", format!("cannot be read: {e}"));
                Vec::new()
            }
        };
        for (key, value) in pairs {
            if !allowed.contains(&key.as_str()) {
                violations.add(key, "is not a known query parameter");
                continue;
            }
            match params.entry(key) {
                std::collections::hash_map::Entry::Occupied(taken) => {
                    violations.add(taken.key().clone(), "is given more than once");
                }
                std::collections::hash_map::Entry::Vacant(free) => {
                    if value.is_empty() {
                        violations.add(
                            free.key().clone(),
                            "must not be empty (leave the parameter out instead)",
                        );
                    }
                    free.insert(value);
                }
            }
        }
        Self { params, violations }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn uuid(&mut self, key: &str) -> Option<Uuid> {
        let raw = self.get(key)?.to_owned();
        self.violations
            .check(key, Uuid::parse_str(&raw).map_err(|_| "must be an id"))
    }

    pub fn page(&mut self) -> PageRequest {
        self.page_with(|raw| Uuid::parse_str(raw).map_err(|_| "must be an id".to_owned()))
    }

    /// A page whose `starting_after` is read by `cursor` (an `evt_...` id, say).
    pub fn page_with(&mut self, cursor: fn(&str) -> Result<Uuid, String>) -> PageRequest {
        let limit = match self.get("limit").map(str::to_owned) {
            None => Some(Limit::default()),
            Some(raw) => {
                let parsed = raw
                    .parse::<i64>()
                    .map_err(|_| format!("must be an integer between 1 and {}", Limit::MAX))
                    .and_then(Limit::parse);
                self.violations.check("limit", parsed)
            }
        };
        let starting_after = match self.get("starting_after").map(str::to_owned) {
            Some(raw) => self.violations.check("starting_after", cursor(&raw)),
            None => None,
        };
        PageRequest {
            limit: limit.unwrap_or_default(),
            starting_after,
        }
    }

    pub fn finish(self) -> Result<(), Problem> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(&self.violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(q: &Query) -> Vec<(String, String)> {
        q.violations
            .errors()
            .iter()
            .map(|e| (e.field.clone(), e.message.clone()))
            .collect()
    }

    #[test]
    fn duplicated_empty_and_unknown_parameters_are_each_reported() {
        let q = Query::of(
            "limit=2&limit=3&status=&colour=red&customer_id=x",
            &["limit", "status", "customer_id"],
        );
        let reported: Vec<String> = fields(&q).into_iter().map(|(f, _)| f).collect();
        assert_eq!(reported, ["limit", "status", "colour"]);
        assert!(fields(&q)[0].1.contains("more than once"));
        assert!(fields(&q)[1].1.contains("empty"));
        assert_eq!(
            q.get("limit"),
            Some("2"),
            "the first value, which is refused anyway"
        );
    }

    #[test]
    fn a_clean_query_reads_its_values() {
        let mut q = Query::of(
            "limit=5&starting_after=01a21a70-0000-7000-8000-00000000c001",
            &["limit", "starting_after"],
        );
        let page = q.page();
        assert!(q.violations.is_empty());
        assert_eq!(page.limit.get(), 5);
        assert!(page.starting_after.is_some());
    }
}
