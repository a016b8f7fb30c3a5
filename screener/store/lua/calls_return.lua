-- calls_return.lua: a screener on a Redis Cluster gives back placeholders it leased (calls_lease.lua) and did
-- not spend in their time: their places are free again at once (else when their lease ends).
--
-- KEYS[1]  the campaign's calls in progress (sorted set)
-- ARGV[1..] the placeholders
--
-- returns how many were still held

return redis.call("ZREM", KEYS[1], unpack(ARGV))
