-- The one statement orderpay sends for POST /v1/orders (2 items), with server-side values
-- where the service binds its own (ids, reference, pay token).
WITH o AS (INSERT INTO orders (id, reference, customer_id, currency, total_amount, status,
             metadata, created_at, updated_at, pay_token, flags, amount_refunded, version)
           SELECT gen_random_uuid(), upper(lpad(to_hex(nextval('bench_reference')), 8, '0')),
                  '01a21a70-0000-7000-8000-00000000c001', 'usd', 1225, 'pending_payment',
                  '{"chat_id": "42"}', now(), now(),
                  md5(random()::text) || left(md5(random()::text), 8), '{}', 0, 0
           RETURNING id),
     i AS (INSERT INTO order_items (order_id, position, name, quantity, unit_amount, amount)
           SELECT o.id, item.* FROM o, unnest('{0,1}'::smallint[], '{Tea,Cake}'::text[],
                  '{2,1}'::integer[], '{450,325}'::bigint[], '{900,325}'::bigint[]) AS item),
     e AS (INSERT INTO order_events (id, order_id, type, created_at)
           SELECT gen_random_uuid(), o.id, 'order.created', now() FROM o
           RETURNING id, order_id, type, sequence),
     d AS (INSERT INTO webhook_deliveries (endpoint_id, event_id, order_id, event_sequence, next_attempt_at)
           SELECT w.id, e.id, e.order_id, e.sequence, now() FROM e JOIN webhook_endpoints w
             ON w.status = 'enabled' AND (e.type = ANY (w.enabled_events) OR '*' = ANY (w.enabled_events))
           )
SELECT 1;
