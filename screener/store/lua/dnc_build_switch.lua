-- dnc_build_switch.lua: make a build the live version of its list, in one step (a lookup reads only the
-- "version" field, so it sees the whole old list or the whole new one).
--
-- KEYS[1]  the list's metadata hash
--
-- ARGV[1]  the build's version    ARGV[2]  the numbers it wrote   ARGV[3]  source
-- ARGV[4]  imported at, epoch seconds   ARGV[5]  file format   ARGV[6]  list kind ("" keeps the last one)
--
-- returns {'ok', the previous live version} or {'lost', ''} when another build took the list over

local meta = KEYS[1]
if redis.call('HGET', meta, 'building') ~= ARGV[1] then return {'lost', ''} end
local old = redis.call('HGET', meta, 'version') or '0'
local added = tonumber(redis.call('HGET', meta, 'building_added') or '0')
redis.call('HSET', meta, 'version', ARGV[1], 'count', tonumber(ARGV[2]) + added, 'source', ARGV[3],
           'imported_at', ARGV[4], 'format', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', meta, 'kind', ARGV[6]) end
redis.call('HDEL', meta, 'building', 'building_at', 'building_added')
return {'ok', old}
