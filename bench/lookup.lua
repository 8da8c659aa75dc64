-- wrk script: GET /v1/orders/by-reference/<one of the seeded references: $ORDERS, 10,000 by
-- default>.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
math.randomseed(os.time())
local orders = tonumber(os.getenv("ORDERS") or "10000")
request = function()
  return wrk.format("GET", string.format("/v1/orders/by-reference/%08X", math.random(1, orders)))
end
