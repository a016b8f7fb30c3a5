-- rate_lease.lua: a screener on a Redis Cluster takes part of the campaign's calls per second for the current
-- second of this server's clock; the parts handed out in one second never add up to more than the limit.
-- docs/redis-topologies.md.
--
-- KEYS[1]  the campaign's lease counter: "<second>|<calls handed out in it>"
-- ARGV[1]  calls per second      ARGV[2]  calls wanted
--
-- returns { second, calls granted (0 = the second's calls are all handed out), now ms }

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local second = math.floor(now / 1000)
local used = 0
local raw = redis.call("GET", KEYS[1])
if raw then
  local s, u = string.match(raw, "^(%d+)|(%d+)$")
  if tonumber(s) == second then
    used = tonumber(u)
  end
end
local grant = math.max(0, math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used))
if grant > 0 then
  redis.call("SET", KEYS[1], tostring(second) .. "|" .. tostring(used + grant), "PX", 3000)
end
return { second, grant, now }
