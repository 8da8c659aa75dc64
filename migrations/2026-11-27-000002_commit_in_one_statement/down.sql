DROP FUNCTION orderpay_version_conflict();
