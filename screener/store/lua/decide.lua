-- decide.lua: the store part of one screening decision, atomically, in one round trip.
-- Reads the number's DNC entries, consent, earlier attempts, last refusal and the campaign's rate;
-- evaluates the StorePlan (screener/engine/plan.py, same rules as screener.engine evaluate());
-- when nothing blocks (and the pure rules did not block either) and ARGV commit is "1", reserves the
-- attempt and counts it in the campaign's rate; appends the decision to the audit stream.
--
-- KEYS[1]  attempts sorted set of the number (member "<ms>|<campaign>|<subject>|<id>", score ms)
-- KEYS[2]  consent hash of the number (field purpose -> JSON record)
-- KEYS[3]  refusal string of the number (epoch ms of the last refusal)
-- KEYS[4]  rate counter of the campaign for the decision's second
-- KEYS[5]  audit stream
-- KEYS[6..] per DNC list: tag-level set, then sub-block key (set of suffixes or 10,000-bit bitmap)
--
-- ARGV[1]  now, epoch ms (the decision time; --at in a dry run)
-- ARGV[2]  commit: "1" reserves the attempt when allowed, "0" is a dry run
-- ARGV[3]  pre-block: "1" when the pure rules (hours, holidays, stale lists) already block
-- ARGV[4]  campaign            ARGV[5]  subject
-- ARGV[6]  consent purpose ("" = do not read consent)
-- ARGV[7]  consent required "1"/"0"
-- ARGV[8]  minimum interval, ms (0 = none)     ARGV[9]  refusal cool-down, ms (0 = none)
-- ARGV[10] calls per second (0 = unlimited)   ARGV[11] attempt id
-- ARGV[12] attempt retention, ms              ARGV[13] number of DNC checks (n)
-- ARGV[14] number of frequency checks (f)     ARGV[15] audit stream max length (approximate)
-- ARGV[16] number of audit field pairs (a)
-- then n x (list name, reason code, exempt by consent "1"/"0", tag suffix, block suffix)
-- then f x (scope campaign|subject|any, window ms, max calls, detail)
-- then a x (audit field, value); the script adds verdict, store_reasons, reserved, attempt_id
--
-- returns { dnc_hits[], consent_valid 0/1, attempts[] (members), last_refusal ms or "",
--           rate_count, reserved 0/1, reasons[] ("code|detail"), audit_id, store_ok 0/1 }

local now = tonumber(ARGV[1])
local commit = ARGV[2] == "1"
local pre_block = ARGV[3] == "1"
local campaign, subject = ARGV[4], ARGV[5]
local purpose = ARGV[6]
local consent_required = ARGV[7] == "1"
local min_interval = tonumber(ARGV[8])
local cooldown = tonumber(ARGV[9])
local cps = tonumber(ARGV[10])
local attempt_id = ARGV[11]
local retention = tonumber(ARGV[12])
local n_dnc, n_freq = tonumber(ARGV[13]), tonumber(ARGV[14])
local audit_maxlen, n_audit = tonumber(ARGV[15]), tonumber(ARGV[16])

local reasons = {}

-- consent: a record for the purpose, granted at or before now, not expired, not revoked by now
local consent_valid = false
if purpose ~= "" then
  local raw = redis.call("HGET", KEYS[2], purpose)
  if raw then
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == "table" then
      local granted = tonumber(rec["granted_ms"]) or 0
      local expires = tonumber(rec["expires_ms"]) or 0
      local revoked = tonumber(rec["revoked_ms"]) or 0
      consent_valid = granted <= now and (expires == 0 or now < expires) and (revoked == 0 or now < revoked)
    end
  end
end

-- DNC lists
local hits = {}
local argi = 17
for i = 1, n_dnc do
  local name, code, exempt = ARGV[argi], ARGV[argi + 1], ARGV[argi + 2] == "1"
  local tag_suffix, block_suffix = ARGV[argi + 3], tonumber(ARGV[argi + 4])
  local tag_key, block_key = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local listed = redis.call("SISMEMBER", tag_key, tag_suffix) == 1
  if not listed then
    local t = redis.call("TYPE", block_key)["ok"]
    if t == "set" then
      listed = redis.call("SISMEMBER", block_key, tostring(block_suffix)) == 1
    elseif t == "string" then
      listed = redis.call("GETBIT", block_key, block_suffix) == 1
    end
  end
  if listed then
    hits[#hits + 1] = name
    if not (exempt and consent_valid) then
      reasons[#reasons + 1] = code .. "|" .. name
    end
  end
  argi = argi + 5
end

if consent_required and not consent_valid then
  reasons[#reasons + 1] = "no_consent|" .. purpose
end

-- frequency: attempts in (now - window, now]
local attempts = redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. tostring(now - retention), now)
local parsed = {}
for i, member in ipairs(attempts) do
  local at, c, s = string.match(member, "^(%d+)|([^|]*)|([^|]*)|")
  parsed[i] = { tonumber(at), c, s }
end
for j = 1, n_freq do
  local scope, window, maxc, detail = ARGV[argi], tonumber(ARGV[argi + 1]), tonumber(ARGV[argi + 2]), ARGV[argi + 3]
  local count = 0
  for _, a in ipairs(parsed) do
    if a[1] and a[1] > now - window and a[1] <= now then
      if scope == "any" or (scope == "campaign" and a[2] == campaign) or (scope == "subject" and a[3] == subject) then
        count = count + 1
      end
    end
  end
  if count >= maxc then
    reasons[#reasons + 1] = "frequency_limit|" .. detail
  end
  argi = argi + 4
end
if min_interval > 0 then
  for _, a in ipairs(parsed) do
    if a[1] and a[1] > now - min_interval and a[1] <= now then
      reasons[#reasons + 1] = "frequency_limit|min interval"
      break
    end
  end
end
local refusal = redis.call("GET", KEYS[3])
if cooldown > 0 and refusal then
  local r = tonumber(refusal)
  if r and r > now - cooldown and r <= now then
    reasons[#reasons + 1] = "frequency_limit|cool-down after refusal"
  end
end

-- campaign throughput
local rate_count = tonumber(redis.call("GET", KEYS[4]) or "0")
if cps > 0 and rate_count >= cps then
  reasons[#reasons + 1] = "rate_limit|" .. tostring(cps) .. " calls/s"
end

local store_ok = #reasons == 0
local reserved = false
if commit and store_ok and not pre_block then
  redis.call("ZADD", KEYS[1], now, tostring(now) .. "|" .. campaign .. "|" .. subject .. "|" .. attempt_id)
  redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. tostring(now - retention))
  redis.call("PEXPIRE", KEYS[1], retention)
  if cps > 0 then
    redis.call("INCR", KEYS[4])
    redis.call("PEXPIRE", KEYS[4], 2000)
  end
  reserved = true
end

-- audit: the fields given by the caller, plus what this script decided
local fields = {}
for k = 0, n_audit - 1 do
  fields[#fields + 1] = ARGV[argi + 2 * k]
  fields[#fields + 1] = ARGV[argi + 2 * k + 1]
end
local codes = {}
for _, r in ipairs(reasons) do codes[#codes + 1] = r end
fields[#fields + 1] = "verdict"
fields[#fields + 1] = (store_ok and not pre_block) and "allow" or "block"
fields[#fields + 1] = "store_reasons"
fields[#fields + 1] = table.concat(codes, ";")
fields[#fields + 1] = "reserved"
fields[#fields + 1] = reserved and "1" or "0"
fields[#fields + 1] = "attempt_id"
fields[#fields + 1] = reserved and attempt_id or ""
local audit_id = redis.call("XADD", KEYS[5], "MAXLEN", "~", audit_maxlen, "*", unpack(fields))

return { hits, consent_valid and 1 or 0, attempts, refusal or "", rate_count, reserved and 1 or 0,
         reasons, audit_id, store_ok and 1 or 0 }
