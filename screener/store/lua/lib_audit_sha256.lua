-- lib_audit_sha256.lua: SHA-256 in Redis's Lua 5.1 with the bit library Redis ships (Redis has only
-- redis.sha1hex), for the audit chain's link: audit_link(prev_hex, digest_hex, tail) is the SHA-256 of the
-- previous link (32 bytes, from hex), the entry's content digest (32 bytes, from hex, computed by the client)
-- and ``tail`` (the entry id and the fields the script adds). One 64-byte block for the two hashes, then
-- ``tail`` with the padding: two compressions while ``tail`` is at most 55 bytes. Checked against Python's
-- hashlib in tests/store/test_audit_chain.py; its cost is measured by bench/decision_bench.py.
-- Speed: every bit operation is a C call (about 40 ns), so the rounds keep them few (Ch with 3 calls, Maj
-- with 2 by carrying a^b to the next round) and add without normalizing, renormalizing every 16 rounds (a
-- sum then stays far below 2^51, where the bit library's conversion is exact).

local audit_band, audit_bxor, audit_ror, audit_rshift, audit_tobit = bit.band, bit.bxor, bit.ror, bit.rshift, bit.tobit

local AUDIT_K = {  -- the round constants, as the signed 32-bit numbers the bit library returns
  1116352408, 1899447441, -1245643825, -373957723, 961987163, 1508970993, -1841331548, -1424204075,
  -670586216, 310598401, 607225278, 1426881987, 1925078388, -2132889090, -1680079193, -1046744716,
  -459576895, -272742522, 264347078, 604807628, 770255983, 1249150122, 1555081692, 1996064986,
  -1740746414, -1473132947, -1341970488, -1084653625, -958395405, -710438585, 113926993, 338241895,
  666307205, 773529912, 1294757372, 1396182291, 1695183700, 1986661051, -2117940946, -1838011259,
  -1564481375, -1474664885, -1035236496, -949202525, -778901479, -694614492, -200395387, 275423344,
  430227734, 506948616, 659060556, 883997877, 958139571, 1322822218, 1537002063, 1747873779,
  1955562222, 2024104815, -2067236844, -1933114872, -1866530822, -1538233109, -1090935817, -965641998,
}
local AUDIT_W = {}

-- one SHA-256 compression of the 16 words w[1..16] into the state H[1..8]
local function audit_compress(H, w)
  local band, bxor, ror, rshift, tobit = audit_band, audit_bxor, audit_ror, audit_rshift, audit_tobit
  local W, K = AUDIT_W, AUDIT_K
  for j = 1, 16 do W[j] = w[j] end
  for j = 17, 64 do
    local x, y = W[j - 15], W[j - 2]
    W[j] = tobit(W[j - 16] + bxor(ror(x, 7), ror(x, 18), rshift(x, 3)) + W[j - 7]
                 + bxor(ror(y, 17), ror(y, 19), rshift(y, 10)))
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  local ab = bxor(b, c)
  for j = 1, 64 do
    local t1 = h + bxor(ror(e, 6), ror(e, 11), ror(e, 25)) + bxor(g, band(e, bxor(f, g))) + K[j] + W[j]
    local bc = ab
    ab = bxor(a, b)
    local t2 = bxor(ror(a, 2), ror(a, 13), ror(a, 22)) + bxor(b, band(ab, bc))
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2
    if j % 16 == 0 then a = tobit(a); e = tobit(e) end
  end
  H[1] = tobit(H[1] + a); H[2] = tobit(H[2] + b); H[3] = tobit(H[3] + c); H[4] = tobit(H[4] + d)
  H[5] = tobit(H[5] + e); H[6] = tobit(H[6] + f); H[7] = tobit(H[7] + g); H[8] = tobit(H[8] + h)
end

-- true when s is 64 hex digits (a SHA-256 in hex)
local function audit_is_hash(s)
  return type(s) == "string" and #s == 64 and string.find(s, "^%x+$") ~= nil
end

-- SHA-256(bytes(prev_hex) .. bytes(digest_hex) .. tail), in lowercase hex
local function audit_link(prev_hex, digest_hex, tail)
  local H = {1779033703, -1150833019, 1013904242, -1521486534, 1359893119, -1694144372, 528734635, 1541459225}
  local w = {}
  for i = 0, 7 do
    w[i + 1] = tonumber(string.sub(prev_hex, 8 * i + 1, 8 * i + 8), 16)
    w[i + 9] = tonumber(string.sub(digest_hex, 8 * i + 1, 8 * i + 8), 16)
  end
  audit_compress(H, w)
  local bits = (64 + #tail) * 8
  local padded = tail .. "\128" .. string.rep("\0", (55 - #tail) % 64)
    .. string.char(0, 0, 0, 0, math.floor(bits / 16777216) % 256, math.floor(bits / 65536) % 256,
                   math.floor(bits / 256) % 256, bits % 256)
  for off = 0, #padded - 64, 64 do
    for j = 1, 16 do
      local b1, b2, b3, b4 = string.byte(padded, off + 4 * j - 3, off + 4 * j)
      w[j] = b1 * 16777216 + b2 * 65536 + b3 * 256 + b4
    end
    audit_compress(H, w)
  end
  for i = 1, 8 do H[i] = bit.tohex(H[i]) end
  return table.concat(H)
end
