-- wrk script: registrations, each a new ip:port. Persistent by default,
-- spread over 64 services; with `-- ephemeral` after the URL, ephemeral
-- (Nacos's default) spread over 100 services (they expire 30 s after their
-- last beat). Each wrk thread numbers its requests from a different base.
local fl = math.floor
local counter = 0
local base = 0
local services = 64
local prefix = "bench"
local kind = "&ephemeral=false"

function setup(thread)
  thread:set("base", base)
  base = base + 100000000
end

function init(args)
  base = tonumber(wrk.thread:get("base")) or 0
  if args[1] == "ephemeral" then
    services, prefix, kind = 100, "wrk", ""
  end
end

function request()
  counter = counter + 1
  local n = base + counter
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=%s%d&ip=127.%d.%d.%d&port=%d%s",
    prefix, n % services, fl(n / 16777216) % 256, fl(n / 65536) % 256,
    fl(n / 256) % 256, n % 256 + 1, kind)
  return wrk.format("POST", path)
end
