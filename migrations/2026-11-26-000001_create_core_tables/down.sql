DROP TABLE api_keys;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE customers;
