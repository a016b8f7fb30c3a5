-- calls_bind.lua: a screener on a Redis Cluster allowed a call on one of its placeholders (calls_lease.lua):
-- the call takes the placeholder's place, counted until its end is reported or its lease ends. A call whose
-- end was already reported (calls_release.lua left its marker), or whose lease is over, just frees the
-- placeholder. Idempotent: the call's lease end comes from the time it was allowed, and the end's marker
-- stays, so a bind written again (a spool replaying it after a failure) changes nothing.
--
-- KEYS[1]  the campaign's calls in progress      KEYS[2]  the call's "ended" marker
-- ARGV[1]  the placeholder   ARGV[2]  the call id   ARGV[3]  ms the call's lease lasts
-- ARGV[4]  epoch ms the call was allowed
--
-- returns 1 when the call is counted, 0 when it had already ended (or its lease is over)

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_end = tonumber(ARGV[4]) + tonumber(ARGV[3])
redis.call("ZREM", KEYS[1], ARGV[1])
if redis.call("EXISTS", KEYS[2]) == 1 or lease_end <= now then
  return 0
end
redis.call("ZADD", KEYS[1], lease_end, ARGV[2])
if redis.call("PTTL", KEYS[1]) < lease_end - now then
  redis.call("PEXPIRE", KEYS[1], lease_end - now + 60000)
end
return 1
