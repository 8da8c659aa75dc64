-- Webhooks out: the endpoints merchants subscribe; the events, which are the order history's
-- rows (the history table is the transactional outbox); and one delivery per event and
-- subscribed endpoint, made in the statement that writes the event.

CREATE TABLE webhook_endpoints (
    id                    uuid        PRIMARY KEY,
    url                   text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description           text        CHECK (length(description) <= 500),
    -- '*' or event types.
    enabled_events        text[]      NOT NULL CHECK (cardinality(enabled_events) >= 1),
    status                text        NOT NULL CHECK (status IN ('enabled', 'disabled')),
    -- The signing secret is never stored: it is derived from WEBHOOK_SIGNING_KEY, the
    -- endpoint's id and this version, which rotation increments.
    secret_version        integer     NOT NULL DEFAULT 1,
    -- Until then, deliveries are signed with the previous version's secret too.
    previous_secret_until timestamptz,
    -- The first failure since the last success: too long ago disables the endpoint.
    failing_since         timestamptz,
    disabled_reason       text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);

-- Each history row is an event. `sequence` orders one order's deliveries (assigned as the row
-- is written, so a later change of an order always has a greater one). Rows written before
-- this migration are not events (`published`).
ALTER TABLE order_events ADD COLUMN sequence bigserial;
ALTER TABLE order_events ADD COLUMN published boolean NOT NULL DEFAULT false;
ALTER TABLE order_events ALTER COLUMN published SET DEFAULT true;
-- The feed of one type, newest first (ids are time-ordered UUIDv7s; all types use the key).
-- `order.created` is left out: it is one event in four, found soon enough by the key, and
-- creating an order then writes no entry here.
CREATE INDEX order_events_by_type ON order_events (type, id)
    WHERE published AND type <> 'order.created';

-- An event's order (its row, its items, its latest payment) as the statement that wrote the
-- event left it. `order.created` has none: the order as created is its row as it is now with
-- the fields that change reset (see orderpay_event_snapshot), so the hottest write stays
-- lean. A table of its own: inserting here costs the writes far less than updating the row
-- just written.
CREATE TABLE event_snapshots (
    event_id uuid  PRIMARY KEY REFERENCES order_events (id) ON DELETE CASCADE,
    snapshot jsonb NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id      uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid        NOT NULL REFERENCES order_events (id) ON DELETE CASCADE,
    order_id         uuid        NOT NULL,
    event_sequence   bigint      NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    -- When a pending delivery is next due.
    next_attempt_at  timestamptz,
    -- A sender's claim: no other sends it until then.
    leased_until     timestamptz,
    lease            uuid,
    last_attempt_at  timestamptz,
    last_status      smallint,
    last_duration_ms integer,
    last_response    text,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id),
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (endpoint_id, order_id, event_sequence)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

-- The outbox's work for a history row, in the statement that wrote it (an AFTER trigger runs
-- at the end of that statement and sees all it did): the snapshot of the order; a delivery to
-- each enabled endpoint subscribed to the event's type. (No NOTIFY: it serializes commits,
-- halving the rate of writes; the writing process wakes its own sender, and every sender
-- polls.) Not for `order.created`: it needs no snapshot, and the
-- statement that creates an order makes its deliveries itself (crates/postgres/src/orders/
-- insert.rs, the same INSERT as below), so that creating an order with no endpoint subscribed
-- pays nothing for webhooks.
CREATE FUNCTION orderpay_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_snapshots (event_id, snapshot) VALUES (NEW.id, jsonb_build_object(
        'order', (SELECT to_jsonb(o) FROM orders o WHERE o.id = NEW.order_id),
        'items', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.position), '[]')
                    FROM order_items i WHERE i.order_id = NEW.order_id),
        'payment', (SELECT to_jsonb(p) FROM payments p WHERE p.order_id = NEW.order_id
                     ORDER BY p.created_at DESC, p.id DESC LIMIT 1)));
    INSERT INTO webhook_deliveries (endpoint_id, event_id, order_id, event_sequence, next_attempt_at)
    SELECT w.id, NEW.id, NEW.order_id, NEW.sequence, now()
      FROM webhook_endpoints w
     WHERE w.status = 'enabled' AND (NEW.type = ANY (w.enabled_events) OR '*' = ANY (w.enabled_events));
    RETURN NULL;
END
$$;

CREATE TRIGGER order_events_outbox AFTER INSERT ON order_events FOR EACH ROW
    WHEN (NEW.type <> 'order.created')
    EXECUTE FUNCTION orderpay_outbox();

-- An event's snapshot: the one written with it, or, for `order.created`, the order's row now
-- with what changes since creation reset (status, flags, refunds, version, updated_at) and no
-- payment, which is exactly the order as it was created.
CREATE FUNCTION orderpay_event_snapshot(e order_events) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT s.snapshot FROM event_snapshots s WHERE s.event_id = e.id), (
        SELECT jsonb_build_object(
            'order', to_jsonb(o) || jsonb_build_object(
                'status', 'pending_payment', 'flags', '[]'::jsonb, 'amount_refunded', 0,
                'version', 0, 'updated_at', o.created_at),
            'items', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.position), '[]')
                        FROM order_items i WHERE i.order_id = o.id),
            'payment', NULL)
          FROM orders o WHERE o.id = e.order_id))
$$;
