-- decide.lua: the store part of one screening decision, atomically, in one round trip.
-- Reads the number's DNC entries, consent, earlier attempts, last refusal and the campaign's rate;
-- evaluates the StorePlan (screener/engine/plan.py, same rules as screener.engine evaluate());
-- when nothing blocks (and the pure rules did not block either) and ARGV commit is "1", reserves the
-- attempt and counts it in the campaign's rate; appends the decision, with the facts it read, to the audit
-- stream of the number's group, extending that stream's hash chain (lib_audit_append). When the stream
-- already holds audit_maxlen entries (the archive is not keeping up), the call is blocked with
-- screening_unavailable and nothing is appended or reserved: the cap never drops evidence.
-- uses: lib_reasons, lib_abandon, lib_audit_sha256, lib_audit_append
--
-- KEYS[1]  attempts sorted set of the number (member "<ms>|<campaign>|<subject>|<id>", score ms)
-- KEYS[2]  consent hash of the number (field purpose -> JSON record)
-- KEYS[3]  refusal string of the number (epoch ms of the last refusal)
-- KEYS[4]  the campaign's rate counter "<second>|<calls started in it>" (a Cluster: a key in the number's slot,
--          unused)
-- KEYS[5]  audit stream of the number's group        KEYS[6]  its chain head
-- KEYS[7..] per DNC list, three keys: tag-level set, sub-block key (set of suffixes or 10,000-bit bitmap), and the
--          version's freed marker of the tag (keys.dnc_freed_key)
-- KEYS[7 + 3 * #dnc] the number's abandoned-call hash (campaign -> epoch ms of its last abandoned call), after
--          the DNC keys
-- KEYS[n]  the campaign's calls in progress (sorted set; lib_campaign_limits.lua), n = the next-to-last ARGV
--
-- ARGV[1]  now, epoch ms (a decision at an explicit time, --at); "" = now by the Redis server's clock, so
--          that screeners whose clocks drift apart still see each other's attempts in order
-- ARGV[2]  commit: "1" reserves the attempt when allowed, "0" is a dry run
-- ARGV[3]  pre-block: "1" when the pure rules (hours, holidays, stale lists) already block
-- ARGV[4]  attempt id
-- ARGV[5]  the plan, JSON (the same for every number of a campaign and state, so the client caches it):
--          {c: campaign, s: subject, p: consent purpose ("" = do not read consent), cr: consent required 0/1,
--           mi: minimum interval ms, cd: refusal cool-down ms, cps: calls per second (0 = unlimited),
--           ret: attempt retention ms, dnc: [[list, reason code, exempt by consent 0/1], ...],
--           f: [[scope campaign|subject|any, window ms, max calls, detail], ...],
--           lo: lock-out ms after an abandoned call (0 = none), lod: its reason detail}
-- ARGV[6]  the number's suffix inside its tag      ARGV[7]  its suffix inside its sub-block (0..9999)
-- ARGV[8]  audit stream cap: at this length the call is blocked (0 = no cap)
-- ARGV[9]  the audit entry's client fields, a JSON array [name, value, name, value...] in order
-- ARGV[10] the client's digest of those fields (64 hex digits)
-- the last three ARGV (always last, whatever comes before them):
--          the expiry, epoch ms by the Redis server's clock: past it the screener has given up on this decision
--          (it blocked the call at its deadline while the command waited, e.g. in a stalled server), so the
--          script changes nothing (no attempt, no audit entry, no chain head) and replies with an error
--          "EXPIRED ..."; "" = no expiry;
--          the index in KEYS of the campaign's calls key ("0": no concurrent-call limit here: none, or counted
--          by the screener's Cluster allowance), then the call's id (the calls key's member)
-- plan cc: max concurrent calls, cl: a call's lease ms (with a calls key)
-- uses: lib_campaign_limits
--
-- The entry gets one field after the link and position, "r" (what this script found, screener/store/audit.py
-- reads it):
--   <a|b><1|0>|<dnc hits: plan indices>|<consent: - not read, n none, 0 not valid, 1 valid>|<count per
--   frequency check, "."-separated>|<ms since the last attempt, when a minimum interval applies>|<ms since
--   the last refusal, when a cool-down applies>|<the campaign's calls this second, when capped>|<reasons, in
--   their audit text form (lib_reasons)>
--
-- returns { dnc_hits[], consent_valid 0/1, attempts[] (members), last_refusal ms or "",
--           rate_count, reserved 0/1, reasons[] ("code|detail"), audit_id, store_ok 0/1, now ms,
--           dnc_gone[] (lists whose version was freed: blocked, screening_unavailable), calls_in_flight,
--           last abandoned call ms or "" }

local expires = ARGV[#ARGV - 2]
local server_now
if ARGV[1] == "" or expires ~= "" then
  local t = redis.call("TIME")
  server_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if expires ~= "" and server_now > tonumber(expires) then
  return redis.error_reply("EXPIRED the screener gave up on this decision before Redis ran it")
end
local now
if ARGV[1] == "" then
  now = server_now
else
  now = tonumber(ARGV[1])
end
local commit = ARGV[2] == "1"
local pre_block = ARGV[3] == "1"
local attempt_id = ARGV[4]
local plan = cjson.decode(ARGV[5])
local campaign, subject, purpose = plan["c"], plan["s"], plan["p"]
local consent_required = plan["cr"] == 1
local min_interval, cooldown, cps, retention = plan["mi"], plan["cd"], plan["cps"], plan["ret"]
local tag_suffix, block_suffix = ARGV[6], tonumber(ARGV[7])
local audit_maxlen = tonumber(ARGV[8]) or 0
local audit_digest = ARGV[10]
if not audit_is_hash(audit_digest) then
  return redis.error_reply("ERR decide: the audit digest is not 64 hex digits")
end
local audit_full = audit_maxlen > 0 and redis.call("XLEN", KEYS[5]) >= audit_maxlen

local reasons = {}

-- consent: a record for the purpose, granted at or before now, not expired, not revoked by now
local consent_valid = false
local consent_fact = "-"
if purpose ~= "" then
  local raw = redis.call("HGET", KEYS[2], purpose)
  consent_fact = raw and "0" or "n"
  if raw then
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == "table" then
      local granted = tonumber(rec["granted_ms"]) or 0
      local expires = tonumber(rec["expires_ms"]) or 0
      local revoked = tonumber(rec["revoked_ms"]) or 0
      consent_valid = granted <= now and (expires == 0 or now < expires) and (revoked == 0 or now < revoked)
      if consent_valid then consent_fact = "1" end
    end
  end
end

-- DNC lists. A list version freed since the screener read it (an import replaced it and its grace period
-- ended) cannot say whether the number is listed: its freed marker blocks the call (fail closed).
local hits, gone, hit_indices = {}, {}, {}
for i, check in ipairs(plan["dnc"]) do
  local name, code, exempt = check[1], check[2], check[3] == 1
  local tag_key, block_key, freed_key = KEYS[4 + 3 * i], KEYS[5 + 3 * i], KEYS[6 + 3 * i]
  if redis.call("EXISTS", freed_key) == 1 then
    gone[#gone + 1] = name
    reasons[#reasons + 1] = "screening_unavailable|list " .. name .. ": version freed by an import meanwhile"
  else
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
      hit_indices[#hit_indices + 1] = tostring(i - 1)
      if not (exempt and consent_valid) then
        reasons[#reasons + 1] = code .. "|" .. name
      end
    end
  end
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
local counts = {}
for _, check in ipairs(plan["f"]) do
  local scope, window, maxc, detail = check[1], check[2], check[3], check[4]
  local count = 0
  for _, a in ipairs(parsed) do
    if a[1] and a[1] > now - window and a[1] <= now then
      if scope == "any" or (scope == "campaign" and a[2] == campaign) or (scope == "subject" and a[3] == subject) then
        count = count + 1
      end
    end
  end
  counts[#counts + 1] = tostring(count)
  if count >= maxc then
    reasons[#reasons + 1] = "frequency_limit|" .. detail
  end
end
local since_last = ""
if min_interval > 0 then
  local latest = nil
  for _, a in ipairs(parsed) do
    if a[1] and a[1] <= now and (latest == nil or a[1] > latest) then latest = a[1] end
  end
  if latest then
    since_last = string.format("%d", now - latest)
    if latest > now - min_interval then
      reasons[#reasons + 1] = "frequency_limit|min interval"
    end
  end
end
local refusal = redis.call("GET", KEYS[3])
local since_refusal = ""
if cooldown > 0 and refusal then
  local r = tonumber(refusal)
  if r and r <= now then
    since_refusal = string.format("%d", now - r)
    if r > now - cooldown then
      reasons[#reasons + 1] = "frequency_limit|cool-down after refusal"
    end
  end
end

-- campaign throughput: calls per second (KEYS[4]) and calls in progress (the calls key); on a Redis Cluster
-- neither is here (cps 0, no calls key): the screener's allowance counts them (docs/redis-topologies.md)
local rate_count = 0
local second = math.floor(now / 1000)
if cps > 0 then
  local s, n = string.match(redis.call("GET", KEYS[4]) or "", "^(%d+)|(%d+)$")
  if tonumber(s) == second then
    rate_count = tonumber(n)
  end
  if rate_count >= cps then
    reasons[#reasons + 1] = "rate_limit|" .. tostring(cps) .. " calls/s"
  end
end
local calls_at = tonumber(ARGV[#ARGV - 1]) or 0
local calls_max = plan["cc"] or 0
local in_flight = 0
if calls_at > 0 and calls_max > 0 then
  in_flight = calls_in_flight(KEYS[calls_at], now)
  if in_flight >= calls_max then
    reasons[#reasons + 1] = "rate_limit|" .. tostring(calls_max) .. " concurrent calls"
  end
end

-- abandoned-call lock-out (lib_abandon.lua)
local abandon_reason, abandoned_at = abandon_lockout(KEYS[7 + 3 * #plan["dnc"]], campaign, plan["lo"] or 0, now,
                                                     plan["lod"] or "")
if abandon_reason then
  reasons[#reasons + 1] = abandon_reason
end

if audit_full then
  reasons[#reasons + 1] = "screening_unavailable|audit trail full: run `screener audit archive`"
end
local store_ok = #reasons == 0
local reserved = false
if commit and store_ok and not pre_block then
  redis.call("ZADD", KEYS[1], now, tostring(now) .. "|" .. campaign .. "|" .. subject .. "|" .. attempt_id)
  redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. tostring(now - retention))
  redis.call("PEXPIRE", KEYS[1], retention)
  if cps > 0 then
    redis.call("SET", KEYS[4], tostring(second) .. "|" .. tostring(rate_count + 1), "PX", 3000)
  end
  if calls_at > 0 and calls_max > 0 then
    calls_take(KEYS[calls_at], now, ARGV[#ARGV], plan["cl"])
  end
  reserved = true
end

-- audit: the client's fields, the link, then "r": what this script found (see the header)
local audit_id = ""
if not audit_full then
  local encoded = {}
  for _, r in ipairs(reasons) do encoded[#encoded + 1] = reason_encode(r) end  -- lib_reasons: any detail survives
  local fact = ((store_ok and not pre_block) and "a" or "b") .. (reserved and "1" or "0") .. "|"
    .. table.concat(hit_indices, ",") .. "|" .. consent_fact .. "|" .. table.concat(counts, ".") .. "|"
    .. since_last .. "|" .. since_refusal .. "|" .. (cps > 0 and tostring(rate_count) or "") .. "|"
    .. table.concat(encoded, ";")
  audit_id = audit_append(KEYS[5], KEYS[6], audit_digest, cjson.decode(ARGV[9]), { "r", fact })
end

return { hits, consent_valid and 1 or 0, attempts, refusal or "", rate_count, reserved and 1 or 0,
         reasons, audit_id, store_ok and 1 or 0, now, gone, in_flight, abandoned_at }
