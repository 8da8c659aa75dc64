-- Every write of an endpoint moves its version on, and a change is written only over the
-- version it was read at: a PATCH racing a secret rotation could write the old
-- secret_version back, and the secret just handed out would never sign.
ALTER TABLE webhook_endpoints ADD COLUMN version bigint NOT NULL DEFAULT 1;
