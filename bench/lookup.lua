-- wrk script: GET /v1/orders/by-reference/<one of the 10,000 seeded references>.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/v1/orders/by-reference/%08X", math.random(1, 10000)))
end
