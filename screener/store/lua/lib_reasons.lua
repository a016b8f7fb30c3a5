-- lib_reasons.lua: the text form of a reason list in an audit entry ("code|detail;code|detail"), the same as
-- screener/store/audit.py encode_reasons: in a detail, '%', ';' and '|' are written %25, %3B and %7C, so any
-- detail (a list name, a consent purpose, a limit's source text) survives the round trip. Not a script: the
-- script loader puts it in front of every script whose header names it in a "uses:" line.

local function reason_escape(detail)
  return (string.gsub(detail, '[%%;|]', function(c) return string.format('%%%02X', string.byte(c)) end))
end

-- one reason "code|detail" (as the scripts build them: the code never holds '|') in its audit text form
local function reason_encode(reason)
  local code, detail = string.match(reason, '^([^|]*)|(.*)$')
  if code == nil then return reason_escape(reason) end
  return code .. '|' .. reason_escape(detail)
end
