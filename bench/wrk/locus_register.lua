-- wrk script: registrations, each a new ip:port. Persistent by default,
-- spread over 64 services; with `-- ephemeral` after the URL, ephemeral
-- (Nacos's default) spread over 100 services (they expire 30 s after their
-- last beat). A second argument is the run number (0..15): each run and
-- each wrk thread (up to 16) has its own second octet, so every request of
-- every run registers an instance that did not exist before:
--   127.<run * 16 + thread>.<n / 65536>.<n / 256 % 256>:<n % 256 + 1>
local fl = math.floor
local counter = 0
local threads = 0
local id = 0
local run = 0
local services = 64
local prefix = "bench"
local kind = "&ephemeral=false"

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  id = tonumber(wrk.thread:get("id")) or 0
  if args[1] == "ephemeral" then
    services, prefix, kind = 100, "wrk", ""
  end
  run = tonumber(args[2]) or 0
end

function request()
  local n = counter
  counter = counter + 1
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=%s%d&ip=127.%d.%d.%d&port=%d%s",
    prefix, n % services, (run * 16 + id) % 256, fl(n / 65536) % 256,
    fl(n / 256) % 256, n % 256 + 1, kind)
  return wrk.format("POST", path)
end
