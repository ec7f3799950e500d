-- wrk script: ephemeral registrations (Nacos's default), each a new ip:port,
-- spread over 100 services. Each wrk thread numbers its requests from a
-- different base. Ephemeral instances expire 30 s after their last beat.
local fl = math.floor
local counter = 0
local base = 0

function setup(thread)
  thread:set("base", base)
  base = base + 100000000
end

function init(args)
  base = tonumber(wrk.thread:get("base")) or 0
end

function request()
  counter = counter + 1
  local n = base + counter
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=wrk%d&ip=10.%d.%d.%d&port=%d",
    n % 100, fl(n / 16777216) % 256, fl(n / 65536) % 256, fl(n / 256) % 256,
    n % 256 + 1)
  return wrk.format("POST", path)
end
