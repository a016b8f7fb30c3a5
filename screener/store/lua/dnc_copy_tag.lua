-- dnc_copy_tag.lua: make one tag of a version being built an exact copy of the same tag of the live version
-- (an import that edits a list builds a new version from a copy of the live one, then edits the copy and
-- switches: the live version is never edited by an import). One slot: both versions' keys of a tag share it.
--
-- KEYS[1], KEYS[2]  the tag set of the live version (source) and of the build (destination); then KEYS[3..]
--          more such pairs: each block key of the tag (a short number's entry: its block key pair only)
--
-- returns {numbers the destination held before (opt-outs written into the build before this copy),
--          numbers it holds now}

local function numbers(key)
  local t = redis.call('TYPE', key)['ok']
  if t == 'set' then return redis.call('SCARD', key) end
  if t == 'string' then return redis.call('BITCOUNT', key) end
  return 0
end
local before, after = 0, 0
for i = 1, #KEYS, 2 do
  local src, dst = KEYS[i], KEYS[i + 1]
  before = before + numbers(dst)
  if redis.call('EXISTS', src) == 1 then
    redis.call('COPY', src, dst, 'REPLACE')
    after = after + numbers(dst)
  else
    redis.call('DEL', dst)
  end
end
return {before, after}
