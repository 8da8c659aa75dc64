-- Customers, orders with their line items, and API keys.
-- Every list the API serves is newest first by (created_at, id): each has an index in that order.

CREATE TABLE customers (
    id          uuid        PRIMARY KEY,
    phone       text        NOT NULL CONSTRAINT customers_phone_key UNIQUE
                            CONSTRAINT customers_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text        CHECK (length(email) <= 254),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX customers_newest_first ON customers (created_at DESC, id DESC);

CREATE TABLE orders (
    id            uuid        PRIMARY KEY,
    reference     text        NOT NULL CONSTRAINT orders_reference_key UNIQUE
                              CONSTRAINT orders_reference_crockford CHECK (reference ~ '^[0-9A-HJKMNP-TV-Z]{8}$'),
    customer_id   uuid        NOT NULL REFERENCES customers (id),
    currency      text        NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    total_amount  bigint      NOT NULL CHECK (total_amount BETWEEN 1 AND 99999999),
    status        text        NOT NULL CHECK (status IN
                                ('pending_payment', 'paid', 'partially_refunded', 'refunded', 'cancelled')),
    metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX orders_newest_first ON orders (created_at DESC, id DESC);
CREATE INDEX orders_by_customer_newest_first ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_by_status_newest_first ON orders (status, created_at DESC, id DESC);

CREATE TABLE order_items (
    order_id     uuid     NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position     smallint NOT NULL CHECK (position BETWEEN 0 AND 99),
    name         text     NOT NULL,
    quantity     integer  NOT NULL CHECK (quantity > 0),
    unit_amount  bigint   NOT NULL CHECK (unit_amount >= 0),
    amount       bigint   NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (order_id, position)
);

CREATE TABLE api_keys (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL,
    prefix      text        NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
    key_hash    bytea       NOT NULL CHECK (length(key_hash) = 32),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
