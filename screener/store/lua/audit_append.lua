-- audit_append.lua: audit entries that waited for Redis (the screener's spool), appended in order in one call.
-- The client sends each entry as the JSON it already holds, so a batch costs it no per-field encoding.
--
-- KEYS[1]  audit stream
--
-- ARGV[1]  audit stream max length (approximate)
-- ARGV[2..] one entry each: its fields, a JSON object of strings
--
-- returns the entries' ids, in order

local ids = {}
for i = 2, #ARGV do
  local fields = {}
  for k, v in pairs(cjson.decode(ARGV[i])) do
    fields[#fields + 1] = k
    fields[#fields + 1] = v
  end
  ids[#ids + 1] = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[1], "*", unpack(fields))
end
return ids
