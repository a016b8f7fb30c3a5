-- dnc_edit_tag.lua: add and remove numbers of one tag in one version of a DNC list (one slot), in order.
-- The edit path of a cluster, and of bulk additions of very short numbers.
-- uses: lib_dnc_edit
--
-- KEYS[1]  the tag set
-- KEYS[2..] block keys: the block key of every number edited; with ARGV[3] = "1", also every block key of
--          the tag (000..999), which an overflowing tag set may move numbers to
--
-- ARGV[1]  the largest intset (set-max-intset-entries, at most 512)
-- ARGV[2]  the edits, space separated, each the op ('a' add, 'r' remove) followed by the rest of the
--          number after its tag ("a5550123 r5550124")
-- ARGV[3]  "1" when KEYS holds every block key of the tag, else "0"
--
-- returns {numbers added, numbers removed}; {-1, -1} when the tag set could overflow and ARGV[3] is "0":
--          nothing was done, call again with every block key (an error when a number's block key is missing)

local tagkey, maxn = KEYS[1], tonumber(ARGV[1])
local declared = {}
for i = 2, #KEYS do declared[KEYS[i]] = true end
local edits, adds = {}, 0
for tok in string.gmatch(ARGV[2], '%S+') do
  local op, rest = string.sub(tok, 1, 1), string.sub(tok, 2)
  if not declared[dnc_block_key(tagkey, rest)] then
    return redis.error_reply('dnc_edit_tag: the block key of ' .. tok .. ' is not in KEYS')
  end
  if op == 'a' and #rest == 7 then adds = adds + 1 end
  edits[#edits + 1] = {op, rest}
end
if ARGV[3] ~= '1' and adds > 0 and redis.call('SCARD', tagkey) + adds > maxn then return {-1, -1} end
local added, removed = 0, 0
for _, edit in ipairs(edits) do
  if edit[1] == 'a' then added = added + dnc_add(tagkey, edit[2], maxn)
  else removed = removed + dnc_remove(tagkey, edit[2]) end
end
return {added, removed}
