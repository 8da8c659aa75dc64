-- wrk script: GET /v1/orders for the customer in $CUSTOMER_ID, $LIMIT a page, after the order
-- in $AFTER when set (a later page, by cursor).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
local path = "/v1/orders?customer_id=" .. os.getenv("CUSTOMER_ID") .. "&limit=" .. (os.getenv("LIMIT") or "5")
local after = os.getenv("AFTER")
if after and after ~= "" then path = path .. "&starting_after=" .. after end
wrk.path = path
