CREATE FUNCTION orderpay_event_snapshot(e order_events) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'order', to_jsonb(o) || coalesce(to_jsonb(e.order_state), jsonb_build_object(
            'status', 'pending_payment', 'flags', '[]'::jsonb, 'amount_refunded', 0,
            'version', 0, 'updated_at', o.created_at)),
        'items', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.position), '[]')
                    FROM order_items i WHERE i.order_id = o.id),
        'payment', (SELECT to_jsonb(p) || to_jsonb(e.payment_state) FROM payments p
                     WHERE p.id = (e.payment_state).id))
      FROM orders o WHERE o.id = e.order_id
$$;
