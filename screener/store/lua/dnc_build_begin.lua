-- dnc_build_begin.lua: mark a new version of a list as being built (an import), unless another build's
-- heartbeat is fresh. From then on every edit of the list (an opt-out) goes to the new version too, so the
-- version handed out must have no keys yet: the client checks that before (a number with keys left by a lost
-- write of this hash is skipped: ARGV[4..], recorded as retired so that a later import frees them).
--
-- KEYS[1]  the list's metadata hash (version, seq, building, building_at, building_added, retired:<version>)
--
-- ARGV[1]  now, epoch seconds     ARGV[2]  seconds after which a build's heartbeat counts as abandoned
-- ARGV[3]  the version to hand out (the client found it has no keys)
-- ARGV[4..] versions below it that have keys and no owner (skipped)
--
-- returns {'ok', the new version, the abandoned build's version or ''} or
--         {'busy', the running build's version, seconds since its heartbeat} or
--         {'moved', the next version number now, ''} when another import took ARGV[3] or a later one meanwhile

local meta, now, stale = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local building = redis.call('HGET', meta, 'building')
local at = tonumber(redis.call('HGET', meta, 'building_at') or '0')
if building and now - at < stale then return {'busy', building, tostring(now - at)} end
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0') or 0
local live = tonumber(redis.call('HGET', meta, 'version') or '0') or 0
if live > seq then seq = live end
local version = tonumber(ARGV[3])
if seq >= version then return {'moved', tostring(seq + 1), ''} end
for i = 4, #ARGV do
  if tonumber(ARGV[i]) > seq then redis.call('HSETNX', meta, 'retired:' .. ARGV[i], ARGV[1]) end
end
redis.call('HSET', meta, 'seq', version, 'building', tostring(version), 'building_at', ARGV[1],
           'building_added', 0)
return {'ok', tostring(version), building or ''}
