-- dnc_merge_block.lua: merge a block the bulk writer gathered into a block key that exists already (of any
-- type: an opt-out wrote it during the build, or the list held numbers before a bulk addition).
-- uses: lib_dnc_edit
--
-- KEYS[1]  the block key
-- KEYS[2]  a scratch key in the same slot (keys.dnc_merge_scratch_key), deleted before the script returns
--
-- ARGV[1]  the largest intset (set-max-intset-entries, at most 512)
-- ARGV[2]  'b': ARGV[3] is a 10,000-bit bitmap (1,250 bytes); 's': ARGV[3..] are block suffixes
--
-- returns the numbers newly added

local maxn = tonumber(ARGV[1])
local added = 0
local t = redis.call('TYPE', KEYS[1])['ok']
if ARGV[2] == 'b' and t ~= 'set' then
  -- bitmap into a bitmap (or nothing): OR it in through the scratch key
  local before = redis.call('BITCOUNT', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
  redis.call('DEL', KEYS[2])
  return redis.call('BITCOUNT', KEYS[1]) - before
elseif ARGV[2] == 'b' then
  local bm = ARGV[3]
  for i = 1, #bm do
    local byte = string.byte(bm, i)
    if byte ~= 0 then
      for j = 0, 7 do
        if bit.band(byte, bit.rshift(128, j)) ~= 0 then
          added = added + dnc_block_add(KEYS[1], (i - 1) * 8 + j, maxn)
        end
      end
    end
  end
else
  for i = 3, #ARGV do added = added + dnc_block_add(KEYS[1], tonumber(ARGV[i]), maxn) end
end
return added
