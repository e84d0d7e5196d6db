-- wrk -s post-json.lua URL: POST the JSON document in the environment variable
-- WRK_BODY to the URL's path (wrk takes the path from the URL).
-- Used by bench/identity.sh for token issue (password and application credential).
local body = os.getenv("WRK_BODY")
if body == nil or body == "" then
  error("post-json.lua: set WRK_BODY to the request body")
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body
