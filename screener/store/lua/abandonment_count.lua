-- abandonment_count.lua: count one answered call of a campaign in its hour bucket (abandoned or not), and
-- delete the buckets that have left every window (once an hour: the field "pruned" holds the last hour).
--
-- KEYS[1] the campaign's abandonment hash (fields n:<hour> answered, a:<hour> abandoned; hours since the epoch)
--
-- ARGV[1] the hour of the answer          ARGV[2] "1" when the call was abandoned, "0" otherwise
-- ARGV[3] hours kept (buckets that many hours older than the current one are deleted)
-- ARGV[4] the current hour
--
-- returns { answered in the bucket, abandoned in the bucket }

local hour, keep, current = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local answered = redis.call("HINCRBY", KEYS[1], "n:" .. hour, 1)
local abandoned
if ARGV[2] == "1" then
  abandoned = redis.call("HINCRBY", KEYS[1], "a:" .. hour, 1)
else
  abandoned = tonumber(redis.call("HGET", KEYS[1], "a:" .. hour) or "0")
end
local pruned = tonumber(redis.call("HGET", KEYS[1], "pruned") or "0")
if pruned < current then
  local oldest = current - keep
  for _, field in ipairs(redis.call("HKEYS", KEYS[1])) do
    local h = tonumber(string.match(field, "^[na]:(%d+)$"))
    if h and h <= oldest then
      redis.call("HDEL", KEYS[1], field)
    end
  end
  redis.call("HSET", KEYS[1], "pruned", current)
end
redis.call("EXPIRE", KEYS[1], (keep + 1) * 3600)
return { answered, abandoned }
