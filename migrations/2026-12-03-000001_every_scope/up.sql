-- Every scope a key can have: the first list missed those added with the event feed and
-- webhooks out (events:read, webhooks:read, webhooks:write), so such keys could not be
-- stored; and orders:clear_flags is new (lifting an order's double-charge guards).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['customers:read', 'customers:write', 'orders:read', 'orders:write',
                           'orders:clear_flags', 'payments:write', 'refunds:write',
                           'events:read', 'webhooks:read', 'webhooks:write']
           AND cardinality(scopes) > 0);
