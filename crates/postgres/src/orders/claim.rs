//! A client's idempotency key claimed by the very statement that creates an order: the
//! `claimed` CTE, the result the statement returns, and what that result says.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::pg::Pg;
use uuid::Uuid;

use orderpay_domain::customer::CustomerId;
use orderpay_domain::idempotency::KeyedAnswer;
use orderpay_domain::order::Inserted;

use super::insert::CustomerOf;

/// A client's idempotency key claimed by the statement that creates the order, with the
/// answer it stores: `claimed AS (INSERT INTO idempotency_keys … ON CONFLICT …)` first, then the
/// order's CTEs only if it claimed. A taken key (not expired) stores nothing, and the statement
/// returns what the key holds.
#[derive(diesel::query_builder::QueryId)]
pub(super) struct ClaimRow {
    api_key_id: Uuid,
    key: String,
    fingerprint: Vec<u8>,
    now: DateTime<Utc>,
    expired_before: DateTime<Utc>,
    status: i16,
    content_type: String,
    body: String,
    /// The customer id the body names before the statement knows the customer's (by phone).
    provisional: String,
}

impl ClaimRow {
    pub(super) fn of(answer: &KeyedAnswer, provisional_customer: Uuid) -> Self {
        Self {
            api_key_id: answer.key.api_key().as_uuid(),
            key: answer.key.as_str().to_owned(),
            fingerprint: answer.fingerprint.clone(),
            now: answer.now,
            expired_before: answer.expired_before,
            status: i16::try_from(answer.response.status).unwrap_or(i16::MAX),
            content_type: answer.response.content_type.clone(),
            body: answer.response.body.clone(),
            provisional: provisional_customer.to_string(),
        }
    }

    /// `claimed AS (…)`, to follow a `WITH` or a comma.
    pub(super) fn walk_claim<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        customer: CustomerOf,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Bytea, SmallInt, Text, Timestamptz};
        out.push_sql(
            "claimed AS (INSERT INTO idempotency_keys AS k (api_key_id, key, fingerprint, \
             created_at, response_status, response_type, response_body) SELECT ",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.api_key_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.key)?;
        out.push_sql(", ");
        out.push_bind_param::<Bytea, _>(&self.fingerprint)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(", ");
        out.push_bind_param::<SmallInt, _>(&self.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.content_type)?;
        out.push_sql(", ");
        match customer {
            CustomerOf::Bound => out.push_bind_param::<Text, _>(&self.body)?,
            CustomerOf::Cte => {
                out.push_sql("replace(");
                out.push_bind_param::<Text, _>(&self.body)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(&self.provisional)?;
                // No customer when the key is taken (none is made then): the row conflicts and
                // is not written, but its constraints are checked first.
                out.push_sql(", coalesce((SELECT id FROM c)::text, ");
                out.push_bind_param::<Text, _>(&self.provisional)?;
                out.push_sql("))");
            }
        }
        out.push_sql(
            " ON CONFLICT (api_key_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
             created_at = EXCLUDED.created_at, response_status = EXCLUDED.response_status, \
             response_type = EXCLUDED.response_type, response_body = EXCLUDED.response_body \
             WHERE k.created_at < ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.expired_before)?;
        out.push_sql(" RETURNING 1)");
        Ok(())
    }

    /// The statement's result: whether it claimed, the customer, and the key as it was.
    pub(super) fn walk_result<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        customer: &'b CustomerOf,
        bound: &'b Uuid,
    ) -> QueryResult<()> {
        use diesel::sql_types::Text;
        out.push_sql(" SELECT EXISTS (SELECT 1 FROM claimed), ");
        out.push_sql(crate::webhooks::MADE_DELIVERIES);
        out.push_sql(", ");
        match customer {
            CustomerOf::Bound => out.push_bind_param::<diesel::sql_types::Uuid, _>(bound)?,
            CustomerOf::Cte => out.push_sql("(SELECT id FROM c)"),
        }
        out.push_sql(
            ", k.fingerprint, k.response_status, k.response_type, k.response_body \
             FROM (SELECT 1) AS one LEFT JOIN idempotency_keys k ON k.api_key_id = ",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.api_key_id)?;
        out.push_sql(" AND k.key = ");
        out.push_bind_param::<Text, _>(&self.key)?;
        Ok(())
    }

    /// ` AND NOT EXISTS (the key, unexpired)`: a taken key makes no customer either.
    pub(super) fn walk_untaken<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Text, Timestamptz};
        out.push_sql(" AND NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE api_key_id = ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.api_key_id)?;
        out.push_sql(" AND key = ");
        out.push_bind_param::<Text, _>(&self.key)?;
        out.push_sql(" AND created_at >= ");
        out.push_bind_param::<Timestamptz, _>(&self.expired_before)?;
        out.push_sql(")");
        Ok(())
    }
}

/// What a statement that claims a key returns: claimed, the order's customer, then the key's
/// fingerprint and answer as they were (`NULL` when not visible: its claim is in flight).
pub(super) type ClaimResult = (
    bool,
    bool,
    Option<Uuid>,
    Option<Vec<u8>>,
    Option<i16>,
    Option<String>,
    Option<String>,
);

pub(super) type ClaimResultSql = (
    diesel::sql_types::Bool,
    diesel::sql_types::Bool,
    diesel::sql_types::Nullable<diesel::sql_types::Uuid>,
    diesel::sql_types::Nullable<diesel::sql_types::Bytea>,
    diesel::sql_types::Nullable<diesel::sql_types::SmallInt>,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
);

/// What a statement that claims an idempotency key says: stored, or what the key holds; and
/// whether it made webhook deliveries.
pub(super) fn inserted(result: ClaimResult, answer: &KeyedAnswer) -> (Inserted, bool) {
    let (claimed, made, customer, stored, status, content_type, body) = result;
    let inserted = match (claimed, customer) {
        (true, Some(customer)) => Inserted::Stored(CustomerId::from_uuid(customer)),
        _ => Inserted::KeyTaken(crate::idempotency::taken(
            stored,
            status,
            content_type,
            body,
            &answer.fingerprint,
        )),
    };
    (inserted, made)
}
