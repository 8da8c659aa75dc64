-- Clients' Idempotency-Keys, per API key: the request they were first used for (its
-- fingerprint) and, once given, its answer. A key without an answer is being worked on.
CREATE TABLE idempotency_keys (
    api_key_id       uuid        NOT NULL,
    key              text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint      bytea       NOT NULL,
    created_at       timestamptz NOT NULL,
    response_status  smallint    CHECK (response_status BETWEEN 100 AND 599),
    response_type    text,
    response_body    text,
    PRIMARY KEY (api_key_id, key),
    CHECK ((response_status IS NULL) = (response_body IS NULL))
);
-- Expired keys are removed oldest first.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
