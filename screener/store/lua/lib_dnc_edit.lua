-- lib_dnc_edit.lua: functions that add or remove one number in one version of a DNC list, keeping the
-- layout's rules (screener/store/dnc/layout.py, docs/dnc-storage.md): the tag set and the block sets stay
-- intsets; an overflowing block set becomes a bitmap; an overflowing tag set moves its most populated blocks
-- to keys of their own. Not a script: the script loader puts it in front of every script whose header names
-- it in a "uses:" line.
--
-- tagkey  a tag set (keys.dnc_tag_key); a block key is tagkey .. ':' .. the block id (keys.dnc_block_key),
--         in the tag's slot
-- rest    the digits after the tag: 7, fewer only for very short numbers (those always use a block key)
-- maxn    the largest set kept as an intset (set-max-intset-entries, at most 512)
--
-- Keys touched: tagkey, the block key of each number edited, and, when the tag set overflows
-- (dnc_split_tag), the block key of any block of the tag.

local function dnc_block_key(tagkey, rest)
  return tagkey .. ':' .. string.sub(rest, 1, #rest - 4)
end
local function dnc_to_bitmap(bk)
  local members = redis.call('SMEMBERS', bk)
  redis.call('DEL', bk)
  redis.call('SETBIT', bk, 9999, 0)
  for _, m in ipairs(members) do redis.call('SETBIT', bk, tonumber(m), 1) end
end
local function dnc_block_add(bk, bs, maxn)
  local t = redis.call('TYPE', bk)['ok']
  if t == 'string' then
    if redis.call('SETBIT', bk, bs, 1) == 0 then return 1 end
    return 0
  end
  local added = redis.call('SADD', bk, bs)
  if added == 1 and redis.call('SCARD', bk) > maxn then dnc_to_bitmap(bk) end
  return added
end
local function dnc_split_tag(tagkey, maxn)
  local members = redis.call('SMEMBERS', tagkey)
  local groups, order = {}, {}
  for _, m in ipairs(members) do
    local n = tonumber(m)
    local b = math.floor(n / 10000)
    if groups[b] == nil then groups[b] = {}; order[#order + 1] = b end
    local g = groups[b]
    g[#g + 1] = n
  end
  table.sort(order, function(x, y) return #groups[x] > #groups[y] end)
  -- a set that outgrew its intset never shrinks back to one: rebuild the tag set from what stays in it
  local remaining, keep = #members, {}
  for _, b in ipairs(order) do
    if remaining > maxn / 2 then
      local bk = tagkey .. ':' .. string.format('%03d', b)
      for _, n in ipairs(groups[b]) do dnc_block_add(bk, n % 10000, maxn) end
      remaining = remaining - #groups[b]
    else
      for _, n in ipairs(groups[b]) do keep[#keep + 1] = n end
    end
  end
  redis.call('DEL', tagkey)
  for i = 1, #keep, 500 do
    redis.call('SADD', tagkey, unpack(keep, i, math.min(i + 499, #keep)))
  end
end
local function dnc_add(tagkey, rest, maxn)
  local bk = dnc_block_key(tagkey, rest)
  local bs = tonumber(string.sub(rest, -4))
  if #rest == 7 and redis.call('SISMEMBER', tagkey, tonumber(rest)) == 1 then return 0 end
  if #rest ~= 7 or redis.call('EXISTS', bk) == 1 then return dnc_block_add(bk, bs, maxn) end
  local added = redis.call('SADD', tagkey, tonumber(rest))
  if added == 1 and redis.call('SCARD', tagkey) > maxn then dnc_split_tag(tagkey, maxn) end
  return added
end
local function dnc_remove(tagkey, rest)
  local bk = dnc_block_key(tagkey, rest)
  local bs = tonumber(string.sub(rest, -4))
  local removed = 0
  if #rest == 7 then removed = redis.call('SREM', tagkey, tonumber(rest)) end
  local t = redis.call('TYPE', bk)['ok']
  if t == 'set' then
    removed = removed + redis.call('SREM', bk, bs)
  elseif t == 'string' then
    removed = removed + redis.call('SETBIT', bk, bs, 0)
    if removed > 0 and redis.call('BITCOUNT', bk) == 0 then redis.call('DEL', bk) end
  end
  if removed > 0 then return 1 end
  return 0
end
