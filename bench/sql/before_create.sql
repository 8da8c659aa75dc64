-- The six statements the build before the performance work sends for POST /v1/orders
-- (2 items; read off the server's log_statement=all): the API key by prefix, then BEGIN,
-- the order, its items, its history row, COMMIT. Server-side values where the service binds
-- its own (ids, reference, pay token): the order id is md5 of a random number, computed
-- by the server, so no extra round trip makes it.
SELECT id, name, prefix, key_hash, created_at, revoked_at FROM api_keys
 WHERE prefix = :key_prefix LIMIT 1;
\set r random(1, 9223372036854775806)
BEGIN;
INSERT INTO orders (id, reference, customer_id, currency, total_amount, status, metadata,
                    created_at, updated_at, pay_token, flags, amount_refunded, version)
VALUES (md5(:r::text)::uuid, upper(lpad(to_hex(nextval('bench_reference')), 8, '0')),
        '01a21a70-0000-7000-8000-00000000c001', 'usd', 1225, 'pending_payment',
        '{"chat_id": "42"}', now(), now(), md5(random()::text) || left(md5(random()::text), 8),
        '{}', 0, 0);
INSERT INTO order_items (order_id, position, name, quantity, unit_amount, amount)
VALUES (md5(:r::text)::uuid, 0, 'Tea', 2, 450, 900), (md5(:r::text)::uuid, 1, 'Cake', 1, 325, 325);
INSERT INTO order_events (id, order_id, type, created_at)
VALUES (gen_random_uuid(), md5(:r::text)::uuid, 'order.created', now());
COMMIT;
