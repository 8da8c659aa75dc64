-- wrk script: GET /v1/customers?phone=<one of the $CUSTOMERS customers bench/seed_scale.sql makes>.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
math.randomseed(os.time())
local customers = tonumber(os.getenv("CUSTOMERS"))
request = function()
  return wrk.format("GET", string.format("/v1/customers?phone=%%2B1201%d", 2000000 + math.random(1, customers)))
end
