ALTER TABLE payments DROP COLUMN checked_at;
