-- Restricted API keys: what a key may do. NULL is a key with full access (every key made
-- before scopes existed keeps it).
ALTER TABLE api_keys ADD COLUMN scopes text[]
    CHECK (scopes <@ ARRAY['customers:read', 'customers:write', 'orders:read', 'orders:write',
                           'payments:write', 'refunds:write']
           AND cardinality(scopes) > 0);
