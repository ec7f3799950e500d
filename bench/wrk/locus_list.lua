-- wrk script: GET /nacos/v1/ns/instance/list round-robin over services
-- bench0..bench(N-1) (N from the first script argument, default 10), which
-- `locusctl bench query` (or the caller) has registered beforehand. A
-- second argument is appended to every query string as it is (already
-- URL-encoded), e.g. "&accessToken=<jwt>" or "&username=u&password=p" with
-- auth on (bench/auth.sh).
local services = 10
local extra = ""
local i = 0

function init(args)
  services = tonumber(args[1]) or 10
  extra = args[2] or ""
  i = math.random(0, services - 1)
end

function request()
  i = (i + 1) % services
  return wrk.format("GET", "/nacos/v1/ns/instance/list?serviceName=bench" .. i .. extra)
end
