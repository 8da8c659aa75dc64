-- Who made a change a person decides (clearing an order's flags lifts its double-charge
-- guards): `api_key:<id>` today, a console user later. NULL for what orderpay or the payment
-- provider did.
ALTER TABLE order_events ADD COLUMN actor text;
