-- audit_rewrite.lua: replace one entry of an audit stream by the same entry with some values replaced (a
-- data-subject erasure's tombstones, which keep its link valid), keeping its id and the order of every entry:
-- the entry and those after it are deleted and added again with their ids, in one atomic step. Its cost grows
-- with the entries after it (each one read, deleted and added: about 3 us each).
--
-- KEYS[1]  the audit stream
-- ARGV[1]  the entry's id
-- ARGV[2]  the link ("_h") the entry holds now: refused if it holds another (changed meanwhile)
-- ARGV[3..] the new fields: name, value, ... in order (the link, position and script fields unchanged)
--
-- returns the number of entries added again (the entry and those after it)

local stream, id = KEYS[1], ARGV[1]
local found = redis.call("XRANGE", stream, id, id)
if #found == 0 then
  return redis.error_reply("ERR audit_rewrite: no entry " .. id .. " in " .. stream)
end
local link = nil
local old = found[1][2]
for i = 1, #old, 2 do
  if old[i] == "_h" then link = old[i + 1] end
end
if link ~= ARGV[2] then
  return redis.error_reply("ERR audit_rewrite: entry " .. id .. " holds another link than the one given")
end
local info = redis.call("XINFO", "STREAM", stream)
local last_id, added, max_deleted = nil, nil, nil
for i = 1, #info, 2 do
  if info[i] == "last-generated-id" then last_id = info[i + 1]
  elseif info[i] == "entries-added" then added = info[i + 1]
  elseif info[i] == "max-deleted-entry-id" then max_deleted = info[i + 1] end
end
local later = redis.call("XRANGE", stream, "(" .. id, "+")
local ids = { id }
for _, row in ipairs(later) do ids[#ids + 1] = row[1] end
for i = 1, #ids, 500 do
  redis.call("XDEL", stream, unpack(ids, i, math.min(i + 499, #ids)))
end
local before = redis.call("XREVRANGE", stream, "(" .. id, "-", "COUNT", 1)
redis.call("XSETID", stream, before[1] and before[1][1] or "0-1")
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call("XADD", stream, id, unpack(fields))
for _, row in ipairs(later) do
  redis.call("XADD", stream, row[1], unpack(row[2]))
end
redis.call("XSETID", stream, last_id, "ENTRIESADDED", added, "MAXDELETEDID", max_deleted)
return #later + 1
