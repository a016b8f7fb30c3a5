-- dnc_build_abort.lua: give a build up (its keys are freed by the caller when this returns 1).
--
-- KEYS[1]  the list's metadata hash
--
-- ARGV[1]  the build's version
--
-- returns 1, or 0 when the build is not the list's build any more

if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'building', 'building_at', 'building_added')
return 1
