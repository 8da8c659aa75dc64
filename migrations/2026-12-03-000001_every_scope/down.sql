ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['customers:read', 'customers:write', 'orders:read', 'orders:write',
                           'payments:write', 'refunds:write']
           AND cardinality(scopes) > 0);
