-- The statement orderpay sends for GET /v1/orders?limit=N[&starting_after=<id>] (read off
-- the server's log_statement=all), under EXPLAIN ANALYZE. psql variables: lim (N + 1) and,
-- for a page after a cursor, after (a quoted order id).
\if :{?after}
\set after_cursor 'WHERE (("orders".created_at, "orders".id) < (SELECT created_at, id FROM "orders" WHERE id = ' :after '))'
\else
\set after_cursor ''
\endif
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT "orders"."id", "orders"."reference", "orders"."customer_id", "orders"."currency",
       "orders"."total_amount", "orders"."status", "orders"."metadata", "orders"."created_at",
       "orders"."updated_at", "orders"."pay_token", "orders"."flags", "orders"."amount_refunded",
       "orders"."version", "order_items"."order_id", "order_items"."position",
       "order_items"."name", "order_items"."quantity", "order_items"."unit_amount",
       "order_items"."amount"
  FROM ("orders" LEFT OUTER JOIN "order_items" ON ("order_items"."order_id" = "orders"."id"))
 WHERE ("orders"."id" = ANY(
         SELECT "orders"."id" FROM "orders" :after_cursor
          ORDER BY "orders"."created_at" DESC, "orders"."id" DESC LIMIT :lim))
 ORDER BY "orders"."created_at" DESC, "orders"."id" DESC, "order_items"."position" ASC;
