-- consent_write.lua: a consent record and its history entry, written together (one slot: the number's).
--
-- KEYS[1]  the number's consent hash (field purpose -> JSON record)
-- KEYS[2]  the consent history stream of the number's tag
-- ARGV[1]  purpose   ARGV[2]  the record, JSON   ARGV[3]  action ("grant" or "revoke")   ARGV[4]  the number
--
-- returns the history entry's id

redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
return redis.call("XADD", KEYS[2], "*", "action", ARGV[3], "number", ARGV[4], "record", ARGV[2])
