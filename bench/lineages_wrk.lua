-- wrk script for the read benchmarks (bench/serve_bench.sh, bench/pg_scale.sh), set by the
-- environment: TOKEN (a read token), LINEAGES (the fleet's size, lineages site0..site{N-1} as
-- bench/gen_lineages.py writes them), WRK_MODE (list: GET /v1/lineages, its first page; detail:
-- GET /v1/lineages/{cert} of a random lineage), WRK_DELAY_MS (optional: a delay before each
-- request, so that the offered rate is bounded; wrk has no rate option). Any status but 200 stops
-- the run with an error.
local token = os.getenv("TOKEN")
local lineages = tonumber(os.getenv("LINEAGES"))
local mode = os.getenv("WRK_MODE")
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
math.randomseed(1)
request = function()
  local path = "/v1/lineages"
  if mode == "detail" then path = "/v1/lineages/site" .. math.random(0, lineages - 1) end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
if delay_ms > 0 then delay = function() return delay_ms end end
response = function(status, headers, body)
  if status ~= 200 then error("status " .. status) end
end
