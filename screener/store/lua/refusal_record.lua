-- refusal_record.lua: a number's refusal (an opt-out press): its time, read by decide.lua for the cool-down,
-- and its audit entry, in one atomic step.
-- uses: lib_audit_sha256, lib_audit_append
--
-- KEYS[1]  the number's refusal string
-- KEYS[2]  the audit stream of the number's group     KEYS[3]  its chain head
-- ARGV[1]  the refusal time, epoch ms                 ARGV[2]  how long it is kept, ms
-- ARGV[3]  the client's digest of the entry's fields (64 hex digits)
-- ARGV[4..] the entry's fields: name, value, ... in order
--
-- returns { entry id, link }

local digest = ARGV[3]
if not audit_is_hash(digest) then
  return redis.error_reply("ERR refusal_record: the digest is not 64 hex digits")
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
local client = {}
for i = 4, #ARGV do client[#client + 1] = ARGV[i] end
local id, link = audit_append(KEYS[2], KEYS[3], digest, client, {})
return { id, link }
