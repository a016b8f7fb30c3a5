-- token_create.lua: store a new admin API token only when its name is free, both hashes in one step.
--
-- KEYS[1]  tokens hash (name -> JSON {role, digest, created})
-- KEYS[2]  digests hash (SHA-256 of a token -> JSON {name, role})
--
-- ARGV[1]  the token's name
-- ARGV[2]  its record (JSON)
-- ARGV[3]  the SHA-256 of the token
-- ARGV[4]  the digest's record (JSON)
--
-- returns 1 when stored, 0 when a token of that name exists
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return 1
