-- wrk script: etcd v3 puts through the JSON gateway (/v3/kv/put), each a new
-- key with a value about the size of a locus registration. The argument is
-- the run number: keys are /bench/<run>/<n % 64>/<n>, new in every run.
local counter = 0
local base = 0
local run = 0
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local value = b64(string.rep("v", 120))

function setup(thread)
  thread:set("base", base)
  base = base + 100000000
end

function init(args)
  base = tonumber(wrk.thread:get("base")) or 0
  run = tonumber(args[1]) or 0
end

function request()
  counter = counter + 1
  local key = b64(string.format("/bench/%d/%d/%d", run, (base + counter) % 64, base + counter))
  local body = '{"key":"' .. key .. '","value":"' .. value .. '"}'
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
end
