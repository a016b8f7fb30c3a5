-- dnc_prefix_edit.lua: add or remove one prefix entry of a DNC list (a prefix blocks every number under it).
-- The prefixes live in the list's metadata hash, field "prefixes" (space separated, sorted), beside the live
-- version that every screener reads about once a second: so a decision gets them with no key of its own, and
-- a replace (a new version) keeps them.
--
-- KEYS[1]  the list's metadata hash (keys.dnc_meta_key)
--
-- ARGV[1]  'a' add or 'r' remove    ARGV[2]  the prefix ("+1201")    ARGV[3]  the most prefixes a list may hold
-- ARGV[4]  now, epoch seconds (last_change_at)    ARGV[5]  provenance ("" keeps the last one)
--
-- returns {1 changed / 0 not (already there, or not there) / -1 refused (the list holds the most already),
--          prefixes the list holds now, the live version}

local meta, op, prefix, most = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local held, found = {}, false
for p in string.gmatch(redis.call('HGET', meta, 'prefixes') or '', '%S+') do
  if p == prefix then found = true else held[#held + 1] = p end
end
redis.call('HSETNX', meta, 'version', '0')
local version = redis.call('HGET', meta, 'version')
if op == 'a' then
  if found then return {0, #held + 1, version} end
  if #held >= most then return {-1, #held, version} end
  held[#held + 1] = prefix
elseif not found then
  return {0, #held, version}
end
table.sort(held)
if #held > 0 then redis.call('HSET', meta, 'prefixes', table.concat(held, ' '))
else redis.call('HDEL', meta, 'prefixes') end
redis.call('HSET', meta, 'last_change_at', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', meta, 'last_change_source', ARGV[5]) end
return {1, #held, version}
