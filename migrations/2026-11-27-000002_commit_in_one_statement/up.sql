-- A provider event's effect is written by one statement (data-modifying CTEs): the event id,
-- the payment and the order at the versions they were read at, the history rows. When a row
-- was not at its version the statement must write nothing: it calls this function, whose
-- error rolls the whole statement back. The adapter recognises the message.
CREATE FUNCTION orderpay_version_conflict() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'orderpay_version_conflict: a row changed since it was read'
        USING ERRCODE = '40001';
END
$$;
