DROP FUNCTION orderpay_event_snapshot(order_events);
DROP TRIGGER order_events_outbox ON order_events;
DROP FUNCTION orderpay_outbox();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE event_snapshots;
DROP INDEX order_events_by_type;
ALTER TABLE order_events DROP COLUMN published, DROP COLUMN sequence;
