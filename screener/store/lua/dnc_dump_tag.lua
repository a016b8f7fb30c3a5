-- dnc_dump_tag.lua: every number one tag of a list version holds (export).
--
-- KEYS[1]  the version's freed marker of the tag (keys.dnc_freed_key)
-- KEYS[2]  the tag set
-- KEYS[3..] block keys of the tag (tag set key .. ':' .. block id)
--
-- returns -1 when the tag was freed (an import replaced the version: what an export read of it is not whole),
--         else {tag set members, then per block key that exists: {block id, 's', members} for a set or
--         {block id, 'b', bitmap bytes} for a bitmap}

if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local out = {redis.call('SMEMBERS', KEYS[2])}
local cut = #KEYS[2] + 2
for i = 3, #KEYS do
  local bk, id = KEYS[i], string.sub(KEYS[i], cut)
  local t = redis.call('TYPE', bk)['ok']
  if t == 'set' then out[#out + 1] = {id, 's', redis.call('SMEMBERS', bk)}
  elseif t == 'string' then out[#out + 1] = {id, 'b', redis.call('GET', bk)} end
end
return out
