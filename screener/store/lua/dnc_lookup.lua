-- dnc_lookup.lua: is a number in one version of a DNC list? The same check decide.lua makes for each list
-- (layout: screener/store/dnc/layout.py, docs/dnc-storage.md), freed marker included.
--
-- KEYS[1]  the tag set of the number's tag (set of 7-digit tag suffixes)
-- KEYS[2]  the number's block key (set of block suffixes, or a 10,000-bit bitmap)
-- KEYS[3]  the version's freed marker of the tag (keys.dnc_freed_key)
--
-- ARGV[1]  the number's tag suffix        ARGV[2]  its block suffix (0..9999)
--
-- returns 1 when listed, 0 when not, -1 when that version of the tag was freed (it cannot say)

if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
local t = redis.call('TYPE', KEYS[2])['ok']
if t == 'set' then return redis.call('SISMEMBER', KEYS[2], ARGV[2]) end
if t == 'string' then return redis.call('GETBIT', KEYS[2], ARGV[2]) end
return 0
