-- lib_campaign_limits.lua: a campaign's concurrent calls on one server (or a Sentinel master), exactly.
-- The calls key is a sorted set: member = call id, score = the epoch ms its lease ends (the call's end,
-- reported by calls_release.lua, removes it sooner). docs/redis-topologies.md says how a Cluster does it.

-- calls in progress at ms ``now`` (their lease not over)
local function calls_in_flight(calls_key, now)
  return redis.call("ZCOUNT", calls_key, "(" .. tostring(now), "+inf")
end

-- count the call ``call_id`` until its end is reported, or ``lease_ms`` at most
local function calls_take(calls_key, now, call_id, lease_ms)
  redis.call("ZREMRANGEBYSCORE", calls_key, "-inf", now)
  redis.call("ZADD", calls_key, now + lease_ms, call_id)
  if redis.call("PTTL", calls_key) < lease_ms then
    redis.call("PEXPIRE", calls_key, lease_ms + 60000)
  end
end
