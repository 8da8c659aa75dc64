ALTER TABLE order_events DROP COLUMN actor;
