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
    /// The query of `req`, reporting any parameter not in `allowed`.
    pub fn parse(req: &HttpRequest, allowed: &[&str]) -> Self {
        let mut violations = Violations::new();
        let mut params = HashMap::new();
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        for (key, value) in pairs {
            if allowed.contains(&key.as_str()) {
                params.insert(key, value);
            } else {
                violations.add(key, "is not a known query parameter");
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
        PageRequest {
            limit: limit.unwrap_or_default(),
            starting_after: self.uuid("starting_after"),
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
