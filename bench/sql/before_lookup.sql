-- The three statements the build before the performance work sends for
-- GET /v1/orders/by-reference/{reference} (read off the server's log_statement=all):
-- the API key by prefix, the order, then its items.
\set n random(1, 10000)
SELECT id, name, prefix, key_hash, created_at, revoked_at FROM api_keys
 WHERE prefix = :key_prefix LIMIT 1;
SELECT id AS order_id, reference, customer_id, currency, total_amount, status, metadata,
       created_at, updated_at, pay_token, flags, amount_refunded, version FROM orders
 WHERE reference = upper(lpad(to_hex(:n::integer), 8, '0')) LIMIT 1 \gset
SELECT order_id, position, name, quantity, unit_amount, amount FROM order_items
 WHERE order_id = ANY(ARRAY[:order_id::uuid]) ORDER BY order_id, position;
