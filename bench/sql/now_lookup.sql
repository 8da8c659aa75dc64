-- The one statement orderpay sends for GET /v1/orders/by-reference/{reference}.
\set n random(1, 10000)
SELECT orders.*, order_items.* FROM orders LEFT OUTER JOIN order_items
  ON order_items.order_id = orders.id
 WHERE orders.reference = upper(lpad(to_hex(:n::integer), 8, '0'))
 ORDER BY order_items.position ASC;
