-- wrk script: create.lua's request, each with an Idempotency-Key of its own (a first use,
-- never a replay): what a key costs a POST. Run from the repository's root, as the bench
-- scripts do.
dofile("bench/create.lua")

-- Each thread's number is set (as a global of its own Lua state) by setup(), so keys from two
-- threads never collide.
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function request()
  counter = counter + 1
  -- wrk.format takes the headers it is given instead of wrk.headers: copy them.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", os.time(), thread_number, counter)
  return wrk.format(nil, nil, headers)
end
