-- wrk script: GET /v1/events?limit=10, the event feed's newest page.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
wrk.path = "/v1/events?limit=10"
