/**
 * The Redis Function library that reads rows and runs the optimizer step inside Redis.
 *
 * Lua numbers are doubles. Every +, -, *, / and sqrt of the update rules is rounded to float32
 * right after it (`f`, round to nearest even at float32's precision); a double holds the exact result of
 * these operations on float32 operands closely enough that rounding it to float32 gives the
 * correctly rounded float32 result, so the arithmetic equals `@halfstep/optim`'s `Math.fround`
 * formulas bit for bit. The 16- and 8-bit store is `@halfstep/codecs`' `encodeBits` with
 * saturation (nearest-even, or stochastic against thresholds derived, with `fillRowThresholds`'
 * slot rule, from the counter-based random words the client sends), written with exact integer
 * arithmetic on doubles.
 */

/** The library's name in `FUNCTION LIST`. */
export const LIBRARY_NAME = 'halfstep';

/** Version of the function library: part of the library name's code, bumped on every change. */
export const LIBRARY_VERSION = 5;

/** Name of the read function (flag no-writes: allowed on replicas). */
export const READ_FUNCTION = `halfstep_read_v${LIBRARY_VERSION}`;

/** Name of the update function. */
export const UPDATE_FUNCTION = `halfstep_update_v${LIBRARY_VERSION}`;

/** The library's source, for `FUNCTION LOAD REPLACE`. */
export const LIBRARY_SOURCE = `#!lua name=${LIBRARY_NAME}
-- The struct, bit and math libraries exist only while a function runs, not while the library
-- loads: bind them on first use.
local spack, sunpack, floor, sqrt, bor, frexp, huge
local function bind()
  if spack == nil then
    spack, sunpack, floor, sqrt, bor = struct.pack, struct.unpack, math.floor, math.sqrt, bit.bor
    frexp, huge = math.frexp, math.huge
  end
end
local TWO31, TWO32, TWO23 = 2147483648, 4294967296, 8388608

-- Rounds a double to float32, to nearest even, with overflow to infinity: the value of a C
-- float conversion, in arithmetic (faster than a struct round trip). q is the float32 quantum
-- at x's binade (2^-149 below the normal range); x / q and the rounding are exact in doubles.
local MAXF = 3.4028234663852886e38
local function f(x)
  if x == 0 or x ~= x then return x end
  local a = x
  if a < 0 then a = -a end
  if a == huge then return x end
  local _, e = frexp(a)
  if e < -125 then e = -125 end
  local q = 2 ^ (e - 24)
  local r = a / q
  local n = floor(r)
  local d = r - n
  if d > 0.5 or (d == 0.5 and n % 2 == 1) then n = n + 1 end
  local v = n * q
  if v > MAXF then v = huge end
  if x < 0 then return -v end
  return v
end
local function bitsOf(x) return (sunpack('<I4', spack('<f', x))) end
local function fromBits(b) return (sunpack('<f', spack('<I4', b))) end

-- A 16- or 8-bit format from its header fields (see the client's updateHeader). A format whose
-- NaN code follows its largest finite code has no infinity (float8e4m3).
local function codeFormat(bits, mb, bias, maxFinite, nan)
  local ns = 23 - mb
  return {
    mb = mb, bias = bias, maxFinite = maxFinite, nan = nan,
    signCode = 2 ^ (bits - 1), struct = bits == 8 and 'B' or 'H', inf = nan ~= maxFinite + 1,
    pns = 2 ^ ns, pcns = 2 ^ (32 - ns),
    rebias = (127 - bias) * TWO23, minNormal = (128 - bias) * TWO23,
    ssb = 151 - bias - mb, emax = 2 ^ (bits - 1 - mb) - 1, pmb = 2 ^ mb,
    -- Stochastic rounding: k = 23 - mb random bits per element, floor(32 / k) per word.
    k = 23 - mb, perWord = floor(32 / (23 - mb)), lowMask = 2 ^ (9 + mb) - 1, pLow = 2 ^ (9 + mb),
  }
end

local function decodeCode(F, code)
  local sign = 0
  if code >= F.signCode then sign = TWO31; code = code - F.signCode end
  local e = floor(code / F.pmb)
  local m = code % F.pmb
  if e == 0 then
    local v = m * 2 ^ (1 - F.bias - F.mb)
    if sign ~= 0 then v = -v end
    return v
  end
  if not F.inf then
    -- float8e4m3: the top exponent holds normal values, and its last code is the NaN.
    if code > F.maxFinite then return fromBits(sign + 2143289344) end
  elseif e == F.emax then
    return fromBits(sign + 2139095040 + m * F.pns)
  end
  return fromBits(sign + (e - F.bias + 127) * TWO23 + m * F.pns)
end

-- codecs' encodeOne with overflow 'saturate'; th < 0: nearest-even, else stochastic threshold.
local function encodeCode(F, x, th)
  local a = bitsOf(x)
  local sign = 0
  if a >= TWO31 then sign = F.signCode; a = a - TWO31 end
  local lower, fraction
  if a >= F.minNormal then
    if a >= 2139095040 then
      if a == 2139095040 then return sign + F.maxFinite end
      if not F.inf then return sign + F.nan end
      return sign + bor(F.nan, floor((a % TWO23) / F.pns))
    end
    local d = a - F.rebias
    lower = floor(d / F.pns)
    fraction = (d % F.pns) * F.pcns
    if lower > F.maxFinite then return sign + F.maxFinite end
  else
    local e = floor(a / TWO23)
    local sig, shift
    if e == 0 then sig = a; shift = F.ssb - 1 else sig = (a % TWO23) + TWO23; shift = F.ssb - e end
    if shift < 32 then
      local p = 2 ^ shift
      lower = floor(sig / p)
      fraction = (sig % p) * 2 ^ (32 - shift)
    else
      local drop = shift - 32
      lower = 0
      if drop >= 24 then
        if sig == 0 then fraction = 0 else fraction = 1 end
      else
        local p = 2 ^ drop
        local v = floor(sig / p)
        if sig % p ~= 0 and v % 2 == 0 then v = v + 1 end
        fraction = v
      end
    end
  end
  local up
  if th < 0 then
    up = fraction > TWO31 or (fraction == TWO31 and lower % 2 == 1)
  else
    up = fraction > th
  end
  local code = lower
  if up then code = code + 1 end
  if code > F.maxFinite then code = F.maxFinite end
  return sign + code
end

-- Thresholds of elements 1 .. count from a row's random words, as the backend's
-- fillRowThresholds: element e (0-based) uses slot e mod P of word floor(e / P); the slot's k
-- bits, moved to the top, then the low 32 - k bits set.
local function thresholds(F, words, at, count)
  local wc = math.ceil(count / F.perWord)
  local w = {sunpack('<' .. string.rep('I4', wc), words, at)}
  local th = {}
  for e = 0, count - 1 do
    local slot = e % F.perWord
    local word = w[floor(e / F.perWord) + 1]
    local shifted = (word * 2 ^ (slot * F.k)) % TWO32
    th[e + 1] = shifted - shifted % F.pLow + F.lowMask
  end
  return th
end

-- Header: 17 little-endian uint32 then 11 float32 (see the client's updateHeader).
local function header(s)
  local h = {}
  local pos = 1
  for i = 1, 17 do h[i], pos = sunpack('<I4', s, pos) end
  local k = {}
  for i = 1, 11 do k[i], pos = sunpack('<f', s, pos) end
  return {
    kind = h[1], dim = h[2], stateSize = h[3], record = h[4], blockBytes = h[5],
    wfmt = h[6] ~= 0 and codeFormat(h[6], h[7], h[8], h[9], h[10]) or nil,
    sfmt = h[11] ~= 0 and codeFormat(h[11], h[12], h[13], h[14], h[15]) or nil,
    stochastic = h[16] == 1, rows = h[17],
    lr = k[1], l2 = k[2], decoupled = k[3], maxNorm = k[4], eps = k[5], b1 = k[6], b2 = k[7],
    a1 = k[8], a2 = k[9], bc1 = k[10], bc2 = k[11],
  }
end

local function checkSize(key, expected)
  local len = redis.call('STRLEN', key)
  if len == 0 then return redis.error_reply('HSMISSING ' .. key) end
  if len ~= expected then
    return redis.error_reply('HSWRONGSIZE ' .. key .. ' ' .. len .. ' ' .. expected)
  end
  return nil
end

-- KEYS[1] block; ARGV: expected block bytes, record bytes, weight bytes, packed uint32 rows.
local function read(keys, args)
  bind()
  local key = keys[1]
  local bad = checkSize(key, tonumber(args[1]))
  if bad then return bad end
  local record, wbytes, rows = tonumber(args[2]), tonumber(args[3]), args[4]
  local out = {}
  local n = #rows / 4
  for i = 1, n do
    local r = sunpack('<I4', rows, 4 * i - 3)
    out[i] = redis.call('GETRANGE', key, r * record, r * record + wbytes - 1)
  end
  return table.concat(out)
end

-- KEYS[1] block; ARGV: header, packed uint32 rows (in the block), float32 gradients,
-- the rows' random words for the weights (stochastic 16/8-bit weights) and for the state (16-bit state).
local function update(keys, args)
  bind()
  local key = keys[1]
  local H = header(args[1])
  local bad = checkSize(key, H.blockBytes)
  if bad then return bad end
  local rows, grads, wth, sth = args[2], args[3], args[4], args[5]
  local dim, ss, record = H.dim, H.stateSize, H.record
  local wfmt, sfmt = H.wfmt, H.sfmt
  local lr, l2, dec, kind = H.lr, H.l2, H.decoupled, H.kind
  local n = #rows / 4
  -- One struct call per record, gradient row and threshold row.
  local recFmt = '<' .. string.rep(wfmt and wfmt.struct or 'f', dim)
    .. string.rep(sfmt and sfmt.struct or 'f', ss)
  local gFmt = '<' .. string.rep('f', dim)
  local wWords = wfmt and math.ceil(dim / wfmt.perWord) or 0
  local sWords = sfmt and math.ceil(ss / sfmt.perWord) or 0
  local w, s, out = {}, {}, {}
  for i = 1, n do
    local r = sunpack('<I4', rows, 4 * i - 3)
    local base = r * record
    local v = {sunpack(recFmt, redis.call('GETRANGE', key, base, base + record - 1))}
    if wfmt then
      for c = 1, dim do w[c] = decodeCode(wfmt, v[c]) end
    else
      for c = 1, dim do w[c] = v[c] end
    end
    if sfmt then
      for c = 1, ss do s[c] = decodeCode(sfmt, v[dim + c]) end
    else
      for c = 1, ss do s[c] = v[dim + c] end
    end
    local g = {sunpack(gFmt, grads, (i - 1) * dim * 4 + 1)}
    -- Weight decay (optim's applyDecay).
    if l2 ~= 0 then for c = 1, dim do g[c] = f(g[c] + f(l2 * w[c])) end end
    if dec ~= 0 then
      local shrink = f(lr * dec)
      for c = 1, dim do w[c] = f(w[c] - f(shrink * w[c])) end
    end
    if kind == 0 then
      for c = 1, dim do w[c] = f(w[c] - f(lr * g[c])) end
    elseif kind == 1 then
      local mu = H.b1
      for c = 1, dim do
        local m = f(f(mu * s[c]) + g[c])
        s[c] = m
        w[c] = f(w[c] - f(lr * m))
      end
    elseif kind == 2 then
      local eps = H.eps
      for c = 1, dim do
        local acc = f(s[c] + f(g[c] * g[c]))
        s[c] = acc
        w[c] = f(w[c] - f(f(lr * g[c]) / f(f(sqrt(acc)) + eps)))
      end
    elseif kind == 3 then
      local sum = 0
      for c = 1, dim do sum = f(sum + f(g[c] * g[c])) end
      local acc = f(s[1] + f(sum / dim))
      s[1] = acc
      local rate = f(lr / f(f(sqrt(acc)) + H.eps))
      for c = 1, dim do w[c] = f(w[c] - f(rate * g[c])) end
    elseif kind == 4 then
      local b1, b2, a1, a2, bc1, bc2, eps = H.b1, H.b2, H.a1, H.a2, H.bc1, H.bc2, H.eps
      for c = 1, dim do
        local gi = g[c]
        local m = f(f(b1 * s[c]) + f(a1 * gi))
        local v = f(f(b2 * s[dim + c]) + f(a2 * f(gi * gi)))
        s[c] = m
        s[dim + c] = v
        local denom = f(f(sqrt(f(v / bc2))) + eps)
        w[c] = f(w[c] - f(lr * f(f(m / bc1) / denom)))
      end
    else
      return redis.error_reply('HSBADKIND ' .. kind)
    end
    -- Max-norm clip (optim's clipNorm).
    if H.maxNorm ~= 0 then
      local n2 = 0
      for c = 1, dim do n2 = f(n2 + f(w[c] * w[c])) end
      local norm = f(sqrt(n2))
      if norm > H.maxNorm then
        local scale = f(H.maxNorm / norm)
        for c = 1, dim do w[c] = f(w[c] * scale) end
      end
    end
    if wfmt then
      if H.stochastic then
        local th = thresholds(wfmt, wth, (i - 1) * wWords * 4 + 1, dim)
        for c = 1, dim do out[c] = encodeCode(wfmt, w[c], th[c]) end
      else
        for c = 1, dim do out[c] = encodeCode(wfmt, w[c], -1) end
      end
    else
      for c = 1, dim do out[c] = w[c] end
    end
    if sfmt then
      if ss > 0 then
        local th = thresholds(sfmt, sth, (i - 1) * sWords * 4 + 1, ss)
        for c = 1, ss do out[dim + c] = encodeCode(sfmt, s[c], th[c]) end
      end
    else
      for c = 1, ss do out[dim + c] = s[c] end
    end
    redis.call('SETRANGE', key, base, spack(recFmt, unpack(out, 1, dim + ss)))
  end
  return n
end

redis.register_function{function_name='${READ_FUNCTION}', callback=read, flags={'no-writes'}}
redis.register_function('${UPDATE_FUNCTION}', update)
`;
