-- wrk script for bench/dpop.sh: a client-credentials token request per call, each with
-- the next single-use DPoP proof from a file minted ahead (bench/dpop_proofs.py). Without
-- BENCH_PROOFS, the same request as a plain bearer-token request.
--
-- Environment: BENCH_AUTH (base64 client_id:client_secret), BENCH_PROOFS (file, or empty).
-- Use one wrk thread (-t1): each thread has its own Lua state and would start the file
-- over; a run that outlasts the file sends "exhausted", refused (counted as non-2xx).

local auth = os.getenv("BENCH_AUTH") or ""
local file = os.getenv("BENCH_PROOFS") or ""
local proofs = {}
if file ~= "" then
  for line in io.lines(file) do
    if line ~= "" then proofs[#proofs + 1] = line end
  end
end
local i = 0

wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. auth

function request()
  if file == "" then
    return wrk.format()
  end
  i = i + 1
  wrk.headers["DPoP"] = proofs[i] or "exhausted"
  return wrk.format()
end
