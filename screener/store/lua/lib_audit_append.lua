-- lib_audit_append.lua: append one entry to an audit stream and extend that stream's hash chain, inside the
-- calling script, so the link is computed in the same atomic step as the append (several screeners writing at
-- once keep one unbroken chain per stream). Needs lib_audit_sha256 in front of it.
--
-- An entry's fields, in order: the client's fields, then "_h" (the link), "_n" (its position in the chain: 1 for
-- a stream's first entry), then the fields the script adds.
--   link = SHA-256(previous link || client digest || ns(id) || ns(n) || ns(name) ns(value) for each added field)
-- where ns(s) = "<byte length>:" .. s, and the client digest is the SHA-256 the client computed over its own
-- fields (screener/store/audit_chain.py says how; it never reaches Lua as anything but 64 hex digits).
-- The head key holds "<link> <last id> <entries appended>"; the first entry's previous link is 64 zeros.
-- The entry id is chosen here (the server clock, after the stream's last id), so the chain covers it.

local AUDIT_GENESIS = string.rep("0", 64)

local function audit_ns(s)
  return #s .. ":" .. s
end

-- the server clock in epoch ms
local function audit_server_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- the id of an entry appended at now_ms: "<now_ms>-0", or the next one after last_id when that is not older
local function audit_next_id(last_id, now_ms)
  if last_id then
    local ms, seq = string.match(last_id, "^(%d+)-(%d+)$")
    ms = tonumber(ms)
    if ms and now_ms <= ms then
      return string.format("%d-%d", ms, tonumber(seq) + 1)
    end
  end
  return string.format("%d-0", now_ms)
end

-- the last id a stream generated (for a stream whose head key is missing)
local function audit_stream_last_id(stream)
  local info = redis.call("XINFO", "STREAM", stream)
  for i = 1, #info, 2 do
    if info[i] == "last-generated-id" then return info[i + 1] end
  end
  return nil
end

-- append ``client`` (field, value, ... as given) with ``digest_hex`` (64 hex, checked by the caller with
-- audit_is_hash before any write) and ``server`` (field, value, ... added by the script); returns id, link
local function audit_append(stream, head, digest_hex, client, server)
  local prev, last_id, count = AUDIT_GENESIS, nil, 0
  local raw = redis.call("GET", head)
  if raw then
    local p, l, c = string.match(raw, "^(%x+) (%S+) (%d+)$")
    if p then
      prev, last_id, count = p, l, tonumber(c)
    end
  elseif redis.call("EXISTS", stream) == 1 then
    last_id = audit_stream_last_id(stream)  -- the head was deleted: `audit verify` reports the break
  end
  local id = audit_next_id(last_id, audit_server_ms())
  local n = string.format("%d", count + 1)
  local tail = { audit_ns(id), audit_ns(n) }
  for i = 1, #server, 2 do
    tail[#tail + 1] = audit_ns(server[i]) .. audit_ns(server[i + 1])
  end
  local link = audit_link(prev, digest_hex, table.concat(tail))
  local args = { "XADD", stream, id }
  for i = 1, #client do args[#args + 1] = client[i] end
  args[#args + 1] = "_h"
  args[#args + 1] = link
  args[#args + 1] = "_n"
  args[#args + 1] = n
  for i = 1, #server do args[#args + 1] = server[i] end
  redis.call(unpack(args))
  redis.call("SET", head, link .. " " .. id .. " " .. n)
  return id, link
end
