-- dnc_build_heartbeat.lua: keep a build alive.
--
-- KEYS[1]  the list's metadata hash
--
-- ARGV[1]  the build's version    ARGV[2]  now, epoch seconds
--
-- returns 1, or 0 when another build took the list over

if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'building_at', ARGV[2])
return 1
