-- dnc_describe_tag.lua: what one tag of a list version holds already (the bulk writer reads it before it
-- merges a file into a live list).
--
-- KEYS[1]  the tag set
-- KEYS[2..] the block keys of the tag (tag set key .. ':' .. block id, normally all 1,000)
--
-- returns {tag set members, ids of the blocks whose key exists}

local out = {redis.call('SMEMBERS', KEYS[1]), {}}
local cut = #KEYS[1] + 2
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then table.insert(out[2], string.sub(KEYS[i], cut)) end
end
return out
