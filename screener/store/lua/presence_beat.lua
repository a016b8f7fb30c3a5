-- presence_beat.lua: one screener's heartbeat, on the Redis server's clock, and the removal of the
-- screeners silent for longer than the time to live.
--
-- KEYS[1]  sorted set of the screeners alive (member: screener id, score: epoch ms of its last heartbeat)
-- KEYS[2]  hash: screener id -> JSON {host, pid, config_version, started}
--
-- ARGV[1]  this screener's id
-- ARGV[2]  its info (JSON)
-- ARGV[3]  time to live, ms
--
-- returns the heartbeat's time, epoch ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
for _, id in ipairs(stale) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return now
