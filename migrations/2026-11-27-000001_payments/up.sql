-- Payments: attempts to pay an order, the provider events already applied, and each order's
-- history. An order has at most one open payment (pending, open or processing) at a time.

ALTER TABLE orders
    ADD COLUMN pay_token       text,
    ADD COLUMN flags           text[]  NOT NULL DEFAULT '{}'
                               CHECK (flags <@ ARRAY['amount_mismatch', 'needs_refund', 'disputed']),
    ADD COLUMN amount_refunded bigint  NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    ADD COLUMN version         integer NOT NULL DEFAULT 0;
-- Orders made before pay links get a token from the server's CSPRNG (gen_random_uuid).
UPDATE orders SET pay_token = left(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 40);
ALTER TABLE orders
    ALTER COLUMN pay_token SET NOT NULL,
    ADD CONSTRAINT orders_pay_token_key UNIQUE (pay_token);

CREATE TABLE payments (
    id                   uuid        PRIMARY KEY,
    order_id             uuid        NOT NULL REFERENCES orders (id),
    provider             text        NOT NULL CHECK (provider IN ('stripe', 'sandbox')),
    status               text        NOT NULL CHECK (status IN
                                       ('pending', 'open', 'processing', 'succeeded', 'failed', 'expired')),
    amount               bigint      NOT NULL CHECK (amount >= 0),
    currency             text        NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    session_id           text,
    session_url          text,
    session_expires_at   timestamptz,
    provider_payment_id  text,
    amount_received      bigint      NOT NULL DEFAULT 0 CHECK (amount_received >= 0),
    amount_refunded      bigint      NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    version              integer     NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CHECK ((session_id IS NULL) = (session_url IS NULL)
       AND (session_id IS NULL) = (session_expires_at IS NULL))
);
CREATE UNIQUE INDEX payments_one_open_per_order ON payments (order_id)
    WHERE status IN ('pending', 'open', 'processing');
CREATE UNIQUE INDEX payments_session_key ON payments (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX payments_by_provider_payment ON payments (provider_payment_id)
    WHERE provider_payment_id IS NOT NULL;
CREATE INDEX payments_by_order_newest_first ON payments (order_id, created_at DESC, id DESC);

-- Provider event ids applied so far: inserted in the transaction that applies the event.
CREATE TABLE processed_events (
    id            text        PRIMARY KEY,
    processed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_events (
    id          uuid        PRIMARY KEY,
    order_id    uuid        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    type        text        NOT NULL,
    payment_id  uuid        REFERENCES payments (id),
    amount      bigint,
    reason      text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX order_events_oldest_first ON order_events (order_id, created_at, id);
-- The pay link is created once per order.
CREATE UNIQUE INDEX order_events_one_payment_link ON order_events (order_id)
    WHERE type = 'order.payment_link_created';

INSERT INTO order_events (id, order_id, type, created_at)
    SELECT gen_random_uuid(), id, 'order.created', created_at FROM orders;
