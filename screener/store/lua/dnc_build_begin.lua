-- dnc_build_begin.lua: hand out the next version number of a list to a new build (an import), unless
-- another build's heartbeat is fresh.
--
-- KEYS[1]  the list's metadata hash (version, seq, building, building_at, building_added)
--
-- ARGV[1]  now, epoch seconds     ARGV[2]  seconds after which a build's heartbeat counts as abandoned
--
-- returns {'ok', the new version, the abandoned build's version or ''} or
--         {'busy', the running build's version, seconds since its heartbeat}

local meta, now, stale = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local building = redis.call('HGET', meta, 'building')
local at = tonumber(redis.call('HGET', meta, 'building_at') or '0')
if building and now - at < stale then return {'busy', building, tostring(now - at)} end
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')
local live = tonumber(redis.call('HGET', meta, 'version') or '0') or 0
if live > seq then seq = live end
seq = seq + 1
redis.call('HSET', meta, 'seq', seq, 'building', tostring(seq), 'building_at', ARGV[1], 'building_added', 0)
return {'ok', tostring(seq), building or ''}
