-- 10,000 orders of 2 items for one customer (psql -v orders=N for another count).
-- References are the order number in hex (valid Crockford base32: 0-9 and A-F), so load
-- generators can pick one at random.
\if :{?orders}
\else
\set orders 10000
\endif
INSERT INTO customers (id, phone, name, created_at, updated_at)
VALUES ('01a21a70-0000-7000-8000-00000000c001', '+14155550100', 'Bench', now(), now());
INSERT INTO orders (id, reference, customer_id, currency, total_amount, status, metadata,
                    created_at, updated_at, pay_token)
SELECT gen_random_uuid(), upper(lpad(to_hex(n), 8, '0')), '01a21a70-0000-7000-8000-00000000c001',
       'usd', 1225, 'pending_payment', '{"chat_id": "42"}', now() - n * interval '1 second', now(),
       left(md5(n::text) || md5((-n)::text), 40)
FROM generate_series(1, :orders) AS n;
INSERT INTO order_items (order_id, position, name, quantity, unit_amount, amount)
SELECT id, p, CASE p WHEN 0 THEN 'Tea' ELSE 'Cake' END, 2 - p, CASE p WHEN 0 THEN 450 ELSE 325 END,
       CASE p WHEN 0 THEN 900 ELSE 325 END
FROM orders, generate_series(0, 1) AS p;
CREATE SEQUENCE bench_reference START 100000;
ANALYZE;
