-- calls_bind.lua: a screener on a Redis Cluster allowed a call on one of its placeholders (calls_lease.lua):
-- the call takes the placeholder's place, counted until its end is reported or its lease ends. A call whose
-- end was already reported (calls_release.lua left its marker) just frees the placeholder.
--
-- KEYS[1]  the campaign's calls in progress      KEYS[2]  the call's "ended" marker
-- ARGV[1]  the placeholder   ARGV[2]  the call id   ARGV[3]  ms the call's lease lasts
--
-- returns 1 when the call is counted, 0 when it had already ended

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("ZREM", KEYS[1], ARGV[1])
if redis.call("DEL", KEYS[2]) == 1 then
  return 0
end
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[3]) then
  redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[3]) + 60000)
end
return 1
