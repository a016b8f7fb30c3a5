-- calls_lease.lua: a screener on a Redis Cluster takes an allowance of the campaign's concurrent calls: up to
-- ARGV[2] placeholders among the calls in progress, each freed by its lease unless bound to a call in time
-- (calls_bind.lua). docs/redis-topologies.md.
--
-- KEYS[1]  the campaign's calls in progress (sorted set: member -> lease end ms)
-- ARGV[1]  max concurrent calls   ARGV[2]  placeholders wanted   ARGV[3]  the holder (screener process id)
-- ARGV[4]  ms a placeholder lives   ARGV[5]  ms a call's lease lasts (the key lives at least that long)
--
-- returns { placeholders[], now ms }

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
local free = tonumber(ARGV[1]) - redis.call("ZCARD", KEYS[1])
local grant = math.min(tonumber(ARGV[2]), free)
local taken = {}
for i = 1, grant do
  local member = "h:" .. ARGV[3] .. ":" .. tostring(now) .. ":" .. tostring(i)
  redis.call("ZADD", KEYS[1], now + tonumber(ARGV[4]), member)
  taken[#taken + 1] = member
end
if grant > 0 and redis.call("PTTL", KEYS[1]) < tonumber(ARGV[5]) then
  redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[5]) + 60000)
end
return { taken, now }
