-- consent_write.lua: a consent record, its history entry (the ledger's stream of the number's tag) and its audit
-- entry (extending the hash chain of the number's group), written together in one atomic step: every key is in
-- the number's slot, on one server and on a Redis Cluster alike.
-- uses: lib_audit_sha256, lib_audit_append
--
-- KEYS[1]  the number's consent hash (field purpose -> JSON record)
-- KEYS[2]  the consent history stream of the number's tag
-- KEYS[3]  the audit stream of the number's group     KEYS[4]  its chain head
-- ARGV[1]  purpose   ARGV[2]  the record, JSON   ARGV[3]  action ("grant" or "revoke")   ARGV[4]  the number
-- ARGV[5]  the client's digest of the audit entry's fields (64 hex digits)
-- ARGV[6..] the audit entry's fields: name, value, ... in order
--
-- returns { the history entry's id, the audit entry's id }

local digest = ARGV[5]
if not audit_is_hash(digest) then
  return redis.error_reply("ERR consent_write: the digest is not 64 hex digits")
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
local history_id = redis.call("XADD", KEYS[2], "*", "action", ARGV[3], "number", ARGV[4], "record", ARGV[2])
local client = {}
for i = 6, #ARGV do client[#client + 1] = ARGV[i] end
local audit_id = audit_append(KEYS[3], KEYS[4], digest, client, {})
return { history_id, audit_id }
