-- When reconciliation last asked the provider about a payment: each run takes the stuck
-- payments looked at least recently, so none waits behind others forever.
ALTER TABLE payments ADD COLUMN checked_at timestamptz;
