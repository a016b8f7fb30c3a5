-- lib_abandon.lua: the lock-out after an abandoned call (screener/engine/store_rules.py says the same).
-- abandon_lockout(key, campaign, lockout_ms, now, detail): key is the number's hash campaign -> epoch ms of
-- its last abandoned call by that campaign. Returns the reason "abandonment_limit|<detail>" when that call is
-- less than lockout_ms old (nil otherwise), and the time read ("" when none, or when there is no lock-out).
local function abandon_lockout(key, campaign, lockout_ms, now, detail)
  if lockout_ms <= 0 then
    return nil, ""
  end
  local at = redis.call("HGET", key, campaign)
  local t = at and tonumber(at)
  if t and t > now - lockout_ms and t <= now then
    return "abandonment_limit|" .. detail, at
  end
  return nil, at or ""
end
