-- dnc_build_switch.lua: make a build the live version of its list, in one step (a lookup reads only the
-- "version" field, so it sees the whole old list or the whole new one).
--
-- KEYS[1]  the list's metadata hash
--
-- ARGV[1]  the build's version    ARGV[2]  the numbers it wrote (edits it received meanwhile are added here)
-- ARGV[3]  source ("" keeps the last one)   ARGV[4]  imported at, epoch seconds ("" keeps the last one: an
--          import of additions or a change list is no new full copy of the list)
-- ARGV[5]  file format ("" keeps)   ARGV[6]  list kind ("" keeps the last one)
-- ARGV[7]  now, epoch seconds: the previous version is recorded as "retired:<version>" = now until its keys
--          are freed; last_change_at = now   ARGV[8]  last_change_source ("" keeps)
--
-- returns {'ok', the previous live version} or {'lost', ''} when another build took the list over

local meta = KEYS[1]
if redis.call('HGET', meta, 'building') ~= ARGV[1] then return {'lost', ''} end
local old = redis.call('HGET', meta, 'version') or '0'
local added = tonumber(redis.call('HGET', meta, 'building_added') or '0')
redis.call('HSET', meta, 'version', ARGV[1], 'count', tonumber(ARGV[2]) + added, 'last_change_at', ARGV[7])
local keep = {source = ARGV[3], imported_at = ARGV[4], format = ARGV[5], kind = ARGV[6],
              last_change_source = ARGV[8]}
for field, value in pairs(keep) do
  if value ~= '' then redis.call('HSET', meta, field, value) end
end
if old ~= ARGV[1] then redis.call('HSET', meta, 'retired:' .. old, ARGV[7]) end
redis.call('HDEL', meta, 'building', 'building_at', 'building_added')
return {'ok', old}
