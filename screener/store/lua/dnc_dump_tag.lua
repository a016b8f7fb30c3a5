-- dnc_dump_tag.lua: every number one tag of a list version holds (export).
--
-- KEYS[1]  the tag set
-- KEYS[2..] block keys of the tag (tag set key .. ':' .. block id)
--
-- returns {tag set members, then per block key that exists: {block id, 's', members} for a set or
--          {block id, 'b', bitmap bytes} for a bitmap}

local out = {redis.call('SMEMBERS', KEYS[1])}
local cut = #KEYS[1] + 2
for i = 2, #KEYS do
  local bk, id = KEYS[i], string.sub(KEYS[i], cut)
  local t = redis.call('TYPE', bk)['ok']
  if t == 'set' then out[#out + 1] = {id, 's', redis.call('SMEMBERS', bk)}
  elseif t == 'string' then out[#out + 1] = {id, 'b', redis.call('GET', bk)} end
end
return out
