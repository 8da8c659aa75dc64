-- wrk script: POST /v1/orders for the customer in $CUSTOMER_ID with the key in $API_KEY.
wrk.method = "POST"
wrk.path = "/v1/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
wrk.body = '{"customer_id":"' .. os.getenv("CUSTOMER_ID") .. '","currency":"usd",'
  .. '"items":[{"name":"Tea","quantity":2,"unit_amount":450},'
  .. '{"name":"Cake","quantity":1,"unit_amount":325}],"metadata":{"chat_id":"42"}}'
