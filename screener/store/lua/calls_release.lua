-- calls_release.lua: a call of the campaign ended: it no longer counts among the calls in progress.
-- When the call is not counted (yet): on a Redis Cluster its allowance may still be on its way to be bound to
-- it (calls_bind.lua), so a short-lived marker says it ended, and the bind then frees the allowance instead.
--
-- KEYS[1]  the campaign's calls in progress (sorted set: call id -> lease end ms)
-- KEYS[2]  the call's "ended" marker
-- ARGV[1]  the call id      ARGV[2]  ms the marker lives
--
-- returns 1 when the call was counted (and is no longer), 0 when it was not (the marker is set)

if redis.call("ZREM", KEYS[1], ARGV[1]) == 1 then
  return 1
end
redis.call("SET", KEYS[2], "1", "PX", tonumber(ARGV[2]))
return 0
