-- Webhooks out: the endpoints merchants subscribe, the events (a transactional outbox written
-- by the statement that records an order's history) and one delivery per event and endpoint.

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

-- The event feed and outbox: one row per history row, with a snapshot of the order (its row,
-- its items and its latest payment) as the statement left them. `sequence` orders one order's
-- deliveries.
CREATE TABLE events (
    sequence   bigserial   UNIQUE NOT NULL,
    id         uuid        PRIMARY KEY REFERENCES order_events (id),
    type       text        NOT NULL,
    order_id   uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    snapshot   jsonb       NOT NULL
);
-- The feed, newest first (all, or of one type).
CREATE INDEX events_newest_first ON events (created_at DESC, id DESC);
CREATE INDEX events_by_type ON events (type, created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id      uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid        NOT NULL REFERENCES events (id),
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

-- The outbox, filled in the statement that writes history rows: an AFTER trigger sees what
-- the whole statement did, so the snapshot is the order as that statement left it. Each
-- event goes to every enabled endpoint subscribed to its type; a NOTIFY (sent at commit)
-- wakes the senders of every replica.
CREATE FUNCTION orderpay_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fanned integer;
BEGIN
    WITH ev AS (
        INSERT INTO events (id, type, order_id, created_at, snapshot)
        SELECT e.id, e.type, e.order_id, e.created_at,
               jsonb_build_object(
                   'order', to_jsonb(o),
                   'items', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.position), '[]')
                               FROM order_items i WHERE i.order_id = o.id),
                   'payment', (SELECT to_jsonb(p) FROM payments p WHERE p.order_id = o.id
                                ORDER BY p.created_at DESC, p.id DESC LIMIT 1))
          FROM new_events e JOIN orders o ON o.id = e.order_id
         ORDER BY e.created_at, e.id
        RETURNING id, type, order_id, sequence
    )
    INSERT INTO webhook_deliveries (endpoint_id, event_id, order_id, event_sequence, next_attempt_at)
    SELECT w.id, ev.id, ev.order_id, ev.sequence, now()
      FROM ev JOIN webhook_endpoints w
        ON w.status = 'enabled' AND (ev.type = ANY (w.enabled_events) OR '*' = ANY (w.enabled_events));
    GET DIAGNOSTICS fanned = ROW_COUNT;
    IF fanned > 0 THEN
        PERFORM pg_notify('orderpay_webhooks', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_events_outbox AFTER INSERT ON order_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION orderpay_outbox();
