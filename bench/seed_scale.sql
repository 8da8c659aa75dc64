-- Orders at scale (bench/scale.sh): :big customers with :per_big orders each, and one order
-- each for as many customers again as that leaves of :orders. The first big customer is
-- 01a21a70-0000-7000-8000-00000000c001 (the one bench/create.lua orders for). Customer n's
-- phone is +1201 followed by 2000000 + n, so load generators can pick one at random; order n's
-- reference is n in hex, as in bench/seed.sql. Each order has two items and its
-- `order.created` history row (the event feed).
INSERT INTO customers (id, phone, name, created_at, updated_at)
SELECT ('01a21a70-0000-7000-8000-' || lpad(to_hex(49152 + n), 12, '0'))::uuid,
       '+1201' || (2000000 + n), 'Customer ' || n, now() - n * interval '1 second', now()
FROM generate_series(1, :orders - :big * :per_big + :big) AS n;
INSERT INTO orders (id, reference, customer_id, currency, total_amount, status, metadata,
                    created_at, updated_at, pay_token)
SELECT gen_random_uuid(), upper(lpad(to_hex(n), 8, '0')),
       ('01a21a70-0000-7000-8000-' || lpad(to_hex(49152 + CASE WHEN n <= :big * :per_big
            THEN (n - 1) % :big + 1 ELSE :big + n - :big * :per_big END), 12, '0'))::uuid,
       'usd', 1225, 'pending_payment', '{"chat_id": "42"}', now() - n * interval '1 second',
       now(), left(md5(n::text) || md5((-n)::text), 40)
FROM generate_series(1, :orders) AS n;
INSERT INTO order_items (order_id, position, name, quantity, unit_amount, amount)
SELECT id, p, CASE p WHEN 0 THEN 'Tea' ELSE 'Cake' END, 2 - p, CASE p WHEN 0 THEN 450 ELSE 325 END,
       CASE p WHEN 0 THEN 900 ELSE 325 END
FROM orders, generate_series(0, 1) AS p;
INSERT INTO order_events (id, order_id, type, created_at)
SELECT gen_random_uuid(), id, 'order.created', created_at FROM orders;
VACUUM ANALYZE;
