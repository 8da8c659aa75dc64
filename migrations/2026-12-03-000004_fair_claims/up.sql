-- The sender claims each endpoint's earliest due deliveries, a few per endpoint, so that one
-- endpoint's backlog (a hanging receiver's, say) never fills the sender: this index reads an
-- endpoint's pending deliveries in due order.
CREATE INDEX webhook_deliveries_due_by_endpoint
    ON webhook_deliveries (endpoint_id, next_attempt_at, event_sequence)
    WHERE status = 'pending';
