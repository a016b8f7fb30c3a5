-- dnc_edit_live.lua: the whole edit of a list on a single Redis server, in one step: read the live version
-- and the version an import is building, add and remove the numbers in both, count, record provenance.
-- Atomic with respect to a version switch (dnc_build_switch.lua), so an opt-out acknowledged during a
-- replace is in the list before and after the switch.
-- uses: lib_dnc_edit
--
-- SINGLE SERVER ONLY: the tag sets, block keys and version tag registries it edits are derived inside the
-- script from ARGV (prefix, list name, the edits) and from the versions it reads, so they are not in KEYS.
-- On a Redis Cluster they live in other slots: the client uses dnc_edit_tag.lua per tag instead
-- (screener/store/dnc/edits.py, docs/dnc-storage.md).
--
-- KEYS[1]  the list's metadata hash (keys.dnc_meta_key: version, building, count, last_change_*)
-- KEYS[2]  the set of list names (keys.DNC_LISTS_KEY)
--
-- ARGV[1]  the list name         ARGV[2]  the largest intset (set-max-intset-entries, at most 512)
-- ARGV[3]  provenance ("" keeps the last one)   ARGV[4]  now, epoch seconds   ARGV[5]  the key prefix
-- ARGV[6]  the edits, space separated, each op ('a' add, 'r' remove) + tag + '/' + rest
--          ("a+1201/5550123 r+1202/5550124")
--
-- returns {numbers added, numbers removed} in the live version, and the live version

local meta, lists = KEYS[1], KEYS[2]
local name, maxn, source, now, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
redis.call('HSETNX', meta, 'version', '0')
redis.call('SADD', lists, name)
local versions = {redis.call('HGET', meta, 'version')}
local building = redis.call('HGET', meta, 'building')
if building and building ~= versions[1] then versions[2] = building end
local added, removed, seen = {0, 0}, {0, 0}, {}
for op, tag, rest in string.gmatch(ARGV[6], '(%a)(%+%d+)/(%d+)') do
  local entry = tag
  if #rest ~= 7 then entry = tag .. '/' .. string.sub(rest, 1, #rest - 4) end
  for v = 1, #versions do
    local tk = prefix .. ':{' .. tag .. '}:dnc:' .. name .. ':' .. versions[v]
    if not seen[v .. entry] then
      redis.call('SADD', prefix .. ':dncver:' .. name .. ':' .. versions[v], entry)
      seen[v .. entry] = true
    end
    if op == 'a' then added[v] = added[v] + dnc_add(tk, rest, maxn)
    else removed[v] = removed[v] + dnc_remove(tk, rest) end
  end
end
redis.call('HINCRBY', meta, 'count', added[1] - removed[1])
if versions[2] then redis.call('HINCRBY', meta, 'building_added', added[2] - removed[2]) end
redis.call('HSET', meta, 'last_change_at', now)
if source ~= '' then redis.call('HSET', meta, 'last_change_source', source) end
return {added[1], removed[1], versions[1]}
