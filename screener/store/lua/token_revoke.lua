-- token_revoke.lua: delete an admin API token (its record and its digest) in one step.
--
-- KEYS[1]  tokens hash (name -> JSON {role, digest, created})
-- KEYS[2]  digests hash (SHA-256 of a token -> JSON {name, role})
--
-- ARGV[1]  the token's name
--
-- returns 1 when revoked, 0 when there is no token of that name
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then
  return 0
end
redis.call('HDEL', KEYS[2], cjson.decode(record)['digest'])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
