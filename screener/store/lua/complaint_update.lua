-- complaint_update.lua: change a complaint ticket only if nobody changed it since it was read (its "rev"),
-- and keep the open-ticket index in step (score = the next deadline; removed when the ticket is closed).
--
-- KEYS[1] the ticket's hash          KEYS[2] the sorted set of open tickets (member id, score next due ms)
--
-- ARGV[1] the ticket id              ARGV[2] the rev read (the update is refused if it changed)
-- ARGV[3] the next deadline, epoch ms ("" = the ticket is no longer open)
-- ARGV[4..] field, value, field, value... to set (the script sets rev to ARGV[2] + 1)
--
-- returns 1 when written, 0 when the ticket changed meanwhile (or is gone)

local rev = redis.call("HGET", KEYS[1], "rev")
if not rev or rev ~= ARGV[2] then
  return 0
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
fields[#fields + 1] = "rev"
fields[#fields + 1] = tostring(tonumber(ARGV[2]) + 1)
redis.call("HSET", KEYS[1], unpack(fields))
if ARGV[3] == "" then
  redis.call("ZREM", KEYS[2], ARGV[1])
else
  redis.call("ZADD", KEYS[2], ARGV[3], ARGV[1])
end
return 1
