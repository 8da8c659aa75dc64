-- Retention: settled deliveries (and the answers stored with them) are removed after
-- WEBHOOK_DELIVERY_RETENTION_DAYS, oldest first, in short batches; events leave the feed
-- after EVENT_RETENTION_DAYS (the order's history keeps its rows, without their snapshots).
-- Each index lets a batch find the oldest rows left without reading those already handled.
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (created_at)
    WHERE status <> 'pending';
CREATE INDEX order_events_published ON order_events (id) WHERE published;
-- An event a pending delivery still needs keeps its snapshot (and its place in the feed).
CREATE INDEX webhook_deliveries_pending_events ON webhook_deliveries (event_id)
    WHERE status = 'pending';
