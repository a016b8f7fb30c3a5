-- dnc_free_tag.lua: free one tag's keys of a list version, leaving a marker that says so, in one step (one
-- slot): a decision or an export that still reads this version finds the marker, never a list that looks
-- empty (docs/dnc-storage.md, "Freed versions").
--
-- KEYS[1]  the tag's freed marker (keys.dnc_freed_key)
-- KEYS[2..] the keys to free: the tag set and the tag's block keys (a short number's entry: its block key)
--
-- ARGV[1]  seconds the marker is kept (far past any reader of the version)
--
-- returns the number of keys freed

redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return redis.call('UNLINK', unpack(KEYS, 2, #KEYS))
