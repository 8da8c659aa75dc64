DROP TRIGGER order_events_outbox ON order_events;
DROP FUNCTION orderpay_outbox();
DROP TABLE webhook_deliveries;
DROP TABLE events;
DROP TABLE webhook_endpoints;
