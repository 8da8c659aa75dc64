DROP TABLE order_events;
DROP TABLE processed_events;
DROP TABLE payments;
ALTER TABLE orders
    DROP COLUMN pay_token,
    DROP COLUMN flags,
    DROP COLUMN amount_refunded,
    DROP COLUMN version;
