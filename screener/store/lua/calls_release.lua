-- calls_release.lua: a call of the campaign ended: it no longer counts among the calls in progress.
-- A short-lived marker says it ended: on a Redis Cluster its allowance may still be on its way to be bound to
-- it (calls_bind.lua), or be bound again by a spool replaying the bind; the bind then frees the allowance
-- instead of counting the call.
--
-- KEYS[1]  the campaign's calls in progress (sorted set: call id -> lease end ms)
-- KEYS[2]  the call's "ended" marker
-- ARGV[1]  the call id      ARGV[2]  ms the marker lives
--
-- returns 1 when the call was counted (and is no longer), 0 when it was not

redis.call("SET", KEYS[2], "1", "PX", tonumber(ARGV[2]))
return redis.call("ZREM", KEYS[1], ARGV[1])
