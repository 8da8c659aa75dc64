-- Back to the snapshots of migration webhooks_out (a table of their own, items included).
DROP FUNCTION orderpay_event_snapshot(order_events);
DROP FUNCTION orderpay_order_state(uuid);
DROP FUNCTION orderpay_payment_state(uuid);
CREATE TABLE event_snapshots (
    event_id uuid  PRIMARY KEY REFERENCES order_events (id) ON DELETE CASCADE,
    snapshot jsonb NOT NULL
);
INSERT INTO event_snapshots (event_id, snapshot)
SELECT e.id, jsonb_build_object(
           'order', to_jsonb(o) || to_jsonb(e.order_state),
           'items', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.position), '[]')
                       FROM order_items i WHERE i.order_id = e.order_id),
           'payment', (SELECT to_jsonb(p) || to_jsonb(e.payment_state) FROM payments p
                        WHERE p.id = (e.payment_state).id))
  FROM order_events e JOIN orders o ON o.id = e.order_id WHERE num_nulls(e.order_state) = 0;
ALTER TABLE order_events DROP CONSTRAINT order_events_snapshot,
    DROP COLUMN order_state, DROP COLUMN payment_state;
DROP TYPE orderpay_order_state;
DROP TYPE orderpay_payment_state;

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
