-- wrk script: as create.lua, each request with an Idempotency-Key of its own (a first use,
-- never a replay): what a key costs a POST.
wrk.method = "POST"
wrk.path = "/v1/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
wrk.body = '{"customer_id":"' .. os.getenv("CUSTOMER_ID") .. '","currency":"usd",'
  .. '"items":[{"name":"Tea","quantity":2,"unit_amount":450},'
  .. '{"name":"Cake","quantity":1,"unit_amount":325}],"metadata":{"chat_id":"42"}}'

local counter = 0
local thread_id = 0
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local key = string.format("bench-%d-%d-%d", os.time(), thread_id, counter)
  return wrk.format(nil, nil, { ["Idempotency-Key"] = key })
end
