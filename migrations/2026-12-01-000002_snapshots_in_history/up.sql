-- An event's snapshot moves into its history row, written by the statement that writes the
-- row, and so do its deliveries: no trigger. The outbox trigger, run for every history row
-- and copying the order, its items and its latest payment as JSON into a table of their own,
-- cost the Stripe event path 14% of its rate (bench/README.md, "Webhooks out").
--
-- A snapshot is what changes in an order after it is created, as the event left it, in two
-- typed columns (a JSON object took 450 bytes, and on this machine the write paths are bound
-- by WAL): `order_state`, the order row's changing fields, and `payment_state`, the latest
-- payment's id and changing fields (NULL without a payment). When the event is read they are
-- laid over the rows as they are (`orderpay_event_snapshot`); items never change.
-- `order.created` has none: the order as created is its row with what changes reset.
CREATE TYPE orderpay_order_state AS (
    status          text,
    flags           text[],
    amount_refunded bigint,
    version         integer,
    updated_at      timestamptz
);
CREATE TYPE orderpay_payment_state AS (
    id                  uuid,
    status              text,
    session_expires_at  timestamptz,
    provider_payment_id text,
    amount_received     bigint,
    amount_refunded     bigint,
    version             integer,
    updated_at          timestamptz
);
ALTER TABLE order_events ADD COLUMN order_state orderpay_order_state;
ALTER TABLE order_events ADD COLUMN payment_state orderpay_payment_state;
UPDATE order_events e
   SET order_state = jsonb_populate_record(NULL::orderpay_order_state, s.snapshot -> 'order'),
       payment_state = CASE WHEN jsonb_typeof(s.snapshot -> 'payment') = 'object' THEN
           jsonb_populate_record(NULL::orderpay_payment_state, s.snapshot -> 'payment') END
  FROM event_snapshots s WHERE s.event_id = e.id;
-- Every event but `order.created` has its snapshot (rows from before webhooks out are not
-- events). num_nulls: `IS NULL` of a composite asks about its fields.
ALTER TABLE order_events ADD CONSTRAINT order_events_snapshot
    CHECK (num_nulls(order_state) = 0 OR type = 'order.created' OR NOT published);

DROP TRIGGER order_events_outbox ON order_events;
DROP FUNCTION orderpay_outbox();
DROP FUNCTION orderpay_event_snapshot(order_events);
DROP TABLE event_snapshots;

-- An order's state and its latest payment's, as the rows are now: for a statement that writes
-- an event after the statements that made the change, or one that leaves a row alone.
CREATE FUNCTION orderpay_order_state(order_id uuid) RETURNS orderpay_order_state
    LANGUAGE sql STABLE AS $$
    SELECT ROW(o.status, o.flags, o.amount_refunded, o.version, o.updated_at)::orderpay_order_state
      FROM orders o WHERE o.id = $1
$$;
CREATE FUNCTION orderpay_payment_state(order_id uuid) RETURNS orderpay_payment_state
    LANGUAGE sql STABLE AS $$
    SELECT ROW(p.id, p.status, p.session_expires_at, p.provider_payment_id, p.amount_received,
               p.amount_refunded, p.version, p.updated_at)::orderpay_payment_state
      FROM payments p WHERE p.order_id = $1
     ORDER BY p.created_at DESC, p.id DESC LIMIT 1
$$;

-- An event's order (its row, its items, its latest payment) at the event: the rows now with
-- the snapshot laid over them, or for `order.created`, the order's row with what changes
-- since creation reset (status, flags, refunds, version, updated_at) and no payment.
CREATE FUNCTION orderpay_event_snapshot(e order_events) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'order', to_jsonb(o) || coalesce(to_jsonb(e.order_state), jsonb_build_object(
            'status', 'pending_payment', 'flags', '[]'::jsonb, 'amount_refunded', 0,
            'version', 0, 'updated_at', o.created_at)),
        'items', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.position), '[]')
                    FROM order_items i WHERE i.order_id = o.id),
        'payment', (SELECT to_jsonb(p) || to_jsonb(e.payment_state) FROM payments p
                     WHERE p.id = (e.payment_state).id))
      FROM orders o WHERE o.id = e.order_id
$$;
