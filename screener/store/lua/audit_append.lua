-- audit_append.lua: append one entry to a group's audit stream, extending its hash chain (lib_audit_append):
-- opt-outs' and disclosures' evidence, decisions made without the store, entries that waited in the spool,
-- admin actions. Never refused for length: audit_maxlen blocks calls (decide.lua), it never drops evidence.
-- uses: lib_audit_sha256, lib_audit_append
--
-- KEYS[1]  the group's audit stream
-- KEYS[2]  its chain head
-- ARGV[1]  the client's digest of its fields (64 hex digits)
-- ARGV[2..] the fields: name, value, name, value... in order
--
-- returns { entry id, link (64 hex) }

local digest = ARGV[1]
if not audit_is_hash(digest) then
  return redis.error_reply("ERR audit_append: the digest is not 64 hex digits")
end
local client = {}
for i = 2, #ARGV do client[#client + 1] = ARGV[i] end
local id, link = audit_append(KEYS[1], KEYS[2], digest, client, {})
return { id, link }
