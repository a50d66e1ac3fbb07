-- wrk script for write benchmarks: every request spends the next single-use credential
-- (a refresh token or an authorization code) from a file minted ahead (bench/mint.py, or
-- the peer's MINT_* start-up), so each request is a real rotation / redemption.
--
-- Environment (set by bench/writes.sh):
--   BENCH_TOKENS  file with one credential per line
--   BENCH_BODY    form body with %s where the credential goes
--   BENCH_AUTH    base64("client_id:client_secret") for HTTP Basic
--   BENCH_LABEL   copied into the RESULT line
-- Use one wrk thread (-t1): each thread has its own Lua state and would start the file
-- over. A run that outlasts the file re-sends spent credentials, which answer 400 and
-- mark the run FAIL (mint more).

local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH") or ""
local label = os.getenv("BENCH_LABEL") or ""
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  if line ~= "" then tokens[#tokens + 1] = line end
end
local i = 0

wrk.method = "POST"
wrk.headers["Accept"] = "application/json"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
if auth ~= "" then wrk.headers["Authorization"] = "Basic " .. auth end

function request()
  i = i + 1
  local t = tokens[i] or "exhausted"
  return wrk.format(nil, nil, nil, (body:gsub("%%s", t)))
end

local function int(x) return math.floor(tonumber(x) or 0) end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"label":"%s","requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"lat_p50_us":%d,"lat_p99_us":%d,"tokens":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    label, int(summary.requests), secs, summary.requests / secs,
    int(latency:percentile(50)), int(latency:percentile(99)), #tokens,
    int(e.connect), int(e.read), int(e.write), int(e.status), int(e.timeout)))
end
