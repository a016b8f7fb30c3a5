-- consent_write.lua: write a number's consent record for one purpose and append the change (grant or revoke)
-- to the audit stream of the number's group, in one atomic step (one slot: the consent hash and the stream
-- share the number's hash tag).
-- uses: lib_audit_sha256, lib_audit_append
--
-- KEYS[1]  the number's consent hash                 KEYS[2]  the audit stream of its group
-- KEYS[3]  the stream's chain head
-- ARGV[1]  the purpose (hash field)                   ARGV[2]  the record, JSON
-- ARGV[3]  the client's digest of the entry's fields (64 hex digits)
-- ARGV[4..] the entry's fields: name, value, ... in order
--
-- returns { entry id, link }

local digest = ARGV[3]
if not audit_is_hash(digest) then
  return redis.error_reply("ERR consent_write: the digest is not 64 hex digits")
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
local client = {}
for i = 4, #ARGV do client[#client + 1] = ARGV[i] end
local id, link = audit_append(KEYS[2], KEYS[3], digest, client, {})
return { id, link }
