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
 *
 * The functions' headers and arguments are declared in src/params.ts; the source starts with the
 * Lua constants generated from those declarations and from the shared code tables
 * (`luaDeclarations`), and reads every header word and argument by name. The host derives every
 * optimizer constant (`kernelConstants`), the optimizer's and the rounding's codes and the
 * random words' shape; the Lua derives only the encoder's powers of two from a format's fields.
 *
 * The update computes every row of its block first, then writes the rows whose new float32
 * weights and state are all finite; a row with a NaN or infinite result keeps its bytes, and the
 * reply lists it: `{rows written, in-block row skipped, ...}`.
 */
import { luaDeclarations } from './params.js';

/** The library's name in `FUNCTION LIST`. */
export const LIBRARY_NAME = 'halfstep';

/** Version of the function library: part of the library name's code, bumped on every change. */
export const LIBRARY_VERSION = 7;

/** Name of the read function (flag no-writes: allowed on replicas). */
export const READ_FUNCTION = `halfstep_read_v${LIBRARY_VERSION}`;

/** Name of the update function. */
export const UPDATE_FUNCTION = `halfstep_update_v${LIBRARY_VERSION}`;

/** The library's source, for `FUNCTION LOAD REPLACE`. */
export const LIBRARY_SOURCE = `#!lua name=${LIBRARY_NAME}
${luaDeclarations()}

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

-- A 16- or 8-bit format from its header words (F: bits, eb, mb, bias, maxFinite, nan, signMask,
-- inf, rule, k, perWord, rowWords; see the client's updateHeaderValues), or nil for float32 (bits
-- 0). Adds codecs' encoder constants (encoderFor) as the powers of two the arithmetic uses.
local function codeFormat(F)
  if F.bits == 0 then return nil end
  if F.rule ~= RULE_NEAREST_EVEN and F.rule ~= RULE_STOCHASTIC then
    return nil, 'HSBADRULE ' .. F.rule
  end
  local ns = 23 - F.mb
  F.struct = F.bits == 8 and 'B' or 'H'
  F.pns, F.pcns = 2 ^ ns, 2 ^ (32 - ns)
  F.rebias, F.minNormal = (127 - F.bias) * TWO23, (128 - F.bias) * TWO23
  F.ssb, F.emax, F.pmb = 151 - F.bias - F.mb, 2 ^ F.eb - 1, 2 ^ F.mb
  -- Stochastic rounding: k random bits per element, the low 32 - k bits of a threshold set.
  F.pLow = 2 ^ (32 - F.k)
  F.lowMask = F.pLow - 1
  return F
end

local function decodeCode(F, code)
  local sign = 0
  if code >= F.signMask then sign = TWO31; code = code - F.signMask end
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

-- codecs' encodeOne with overflow 'saturate' and F's rule: nearest-even, or stochastic against
-- threshold th.
local function encodeCode(F, x, th)
  local a = bitsOf(x)
  local sign = 0
  if a >= TWO31 then sign = F.signMask; a = a - TWO31 end
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
  if F.rule == RULE_STOCHASTIC then
    up = fraction > th
  else
    up = fraction > TWO31 or (fraction == TWO31 and lower % 2 == 1)
  end
  local code = lower
  if up then code = code + 1 end
  if code > F.maxFinite then code = F.maxFinite end
  return sign + code
end

-- Thresholds of elements 1 .. count from a row's F.rowWords random words, as the backend's
-- fillRowThresholds: element e (0-based) uses slot e mod P of word floor(e / P); the slot's k
-- bits, moved to the top, then the low 32 - k bits set.
local function thresholds(F, words, at, count)
  local w = {sunpack('<' .. string.rep('I4', F.rowWords), words, at)}
  local th = {}
  for e = 0, count - 1 do
    local slot = e % F.perWord
    local word = w[floor(e / F.perWord) + 1]
    local shifted = (word * 2 ^ (slot * F.k)) % TWO32
    th[e + 1] = shifted - shifted % F.pLow + F.lowMask
  end
  return th
end

-- The words of header s: bytes long, in struct format format (H_* or R_*); or nil and an error.
local function words(s, bytes, format)
  if #s ~= bytes then return nil, 'HSBADHEADER ' .. #s .. ' ' .. bytes end
  return {sunpack(format, s)}
end

-- The update header by name (see the client's updateHeaderValues), or nil and an error.
local function header(s)
  local h, err = words(s, H_BYTES, H_FORMAT)
  if not h then return nil, err end
  local wfmt, sfmt
  wfmt, err = codeFormat{
    bits = h[H_W_BITS], eb = h[H_W_EXPONENT_BITS], mb = h[H_W_MANTISSA_BITS], bias = h[H_W_BIAS],
    maxFinite = h[H_W_MAX_FINITE_CODE], nan = h[H_W_NAN_CODE], signMask = h[H_W_SIGN_MASK],
    inf = h[H_W_HAS_INFINITY] == 1, rule = h[H_W_RULE], k = h[H_W_RANDOM_BITS],
    perWord = h[H_W_PER_WORD], rowWords = h[H_W_ROW_WORDS],
  }
  if err then return nil, err end
  sfmt, err = codeFormat{
    bits = h[H_S_BITS], eb = h[H_S_EXPONENT_BITS], mb = h[H_S_MANTISSA_BITS], bias = h[H_S_BIAS],
    maxFinite = h[H_S_MAX_FINITE_CODE], nan = h[H_S_NAN_CODE], signMask = h[H_S_SIGN_MASK],
    inf = h[H_S_HAS_INFINITY] == 1, rule = h[H_S_RULE], k = h[H_S_RANDOM_BITS],
    perWord = h[H_S_PER_WORD], rowWords = h[H_S_ROW_WORDS],
  }
  if err then return nil, err end
  return {
    kind = h[H_KIND], dim = h[H_DIM], stateSize = h[H_STATE_SIZE], record = h[H_RECORD_BYTES],
    blockBytes = h[H_BLOCK_BYTES], wfmt = wfmt, sfmt = sfmt,
    lr = h[H_LR], l2 = h[H_L2], decoupled = h[H_DECOUPLED], shrink = h[H_SHRINK],
    maxNorm = h[H_MAX_NORM], eps = h[H_EPS], mu = h[H_MOMENTUM], b1 = h[H_BETA1], b2 = h[H_BETA2],
    a1 = h[H_ONE_MINUS_BETA1], a2 = h[H_ONE_MINUS_BETA2],
    bc1 = h[H_BIAS_CORRECTION1], bc2 = h[H_BIAS_CORRECTION2],
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

-- KEYS[1] block; ARGV (READ_ARG_*): the read header (R_*), packed uint32 rows.
local function read(keys, args)
  bind()
  local key = keys[1]
  local h, err = words(args[READ_ARG_HEADER], R_BYTES, R_FORMAT)
  if not h then return redis.error_reply(err) end
  local bad = checkSize(key, h[R_BLOCK_BYTES])
  if bad then return bad end
  local record, wbytes, rows = h[R_RECORD_BYTES], h[R_WEIGHT_BYTES], args[READ_ARG_ROWS]
  local out = {}
  local n = #rows / 4
  for i = 1, n do
    local r = sunpack('<I4', rows, 4 * i - 3)
    out[i] = redis.call('GETRANGE', key, r * record, r * record + wbytes - 1)
  end
  return table.concat(out)
end

-- KEYS[1] block; ARGV (UPDATE_ARG_*): the update header (H_*), packed uint32 rows (in the
-- block), float32 gradients, the rows' random words for the weights (stochastic 16/8-bit
-- weights) and for the state (16-bit state).
local function update(keys, args)
  bind()
  local key = keys[1]
  local H, err = header(args[UPDATE_ARG_HEADER])
  if not H then return redis.error_reply(err) end
  local bad = checkSize(key, H.blockBytes)
  if bad then return bad end
  local rows, grads = args[UPDATE_ARG_ROWS], args[UPDATE_ARG_GRADIENTS]
  local wth, sth = args[UPDATE_ARG_WEIGHT_WORDS], args[UPDATE_ARG_STATE_WORDS]
  local dim, ss, record = H.dim, H.stateSize, H.record
  local wfmt, sfmt = H.wfmt, H.sfmt
  local lr, l2, dec, shrink, kind = H.lr, H.l2, H.decoupled, H.shrink, H.kind
  local n = #rows / 4
  -- One struct call per record, gradient row and threshold row.
  local recFmt = '<' .. string.rep(wfmt and wfmt.struct or 'f', dim)
    .. string.rep(sfmt and sfmt.struct or 'f', ss)
  local gFmt = '<' .. string.rep('f', dim)
  local wWords = wfmt and wfmt.rowWords or 0
  local sWords = sfmt and sfmt.rowWords or 0
  local w, s, out = {}, {}, {}
  -- Every row is computed before any is written; a row whose new float32 weights or state are
  -- not finite (x - x ~= 0: NaN or infinite, before rounding to the storage format) is not
  -- written at all (backend-js's rule), and is returned.
  local writes, skipped = {}, {}
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
      for c = 1, dim do w[c] = f(w[c] - f(shrink * w[c])) end
    end
    if kind == KIND_SGD then
      for c = 1, dim do w[c] = f(w[c] - f(lr * g[c])) end
    elseif kind == KIND_MOMENTUM then
      local mu = H.mu
      for c = 1, dim do
        local m = f(f(mu * s[c]) + g[c])
        s[c] = m
        w[c] = f(w[c] - f(lr * m))
      end
    elseif kind == KIND_ADAGRAD then
      local eps = H.eps
      for c = 1, dim do
        local acc = f(s[c] + f(g[c] * g[c]))
        s[c] = acc
        w[c] = f(w[c] - f(f(lr * g[c]) / f(f(sqrt(acc)) + eps)))
      end
    elseif kind == KIND_ROWWISE_ADAGRAD then
      local sum = 0
      for c = 1, dim do sum = f(sum + f(g[c] * g[c])) end
      local acc = f(s[1] + f(sum / dim))
      s[1] = acc
      local rate = f(lr / f(f(sqrt(acc)) + H.eps))
      for c = 1, dim do w[c] = f(w[c] - f(rate * g[c])) end
    elseif kind == KIND_ADAM then
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
    local finite = true
    for c = 1, dim do
      local x = w[c]
      if x - x ~= 0 then finite = false; break end
    end
    if finite then
      for c = 1, ss do
        local x = s[c]
        if x - x ~= 0 then finite = false; break end
      end
    end
    if not finite then
      skipped[#skipped + 1] = r
    else
      if wfmt then
        if wfmt.rule == RULE_STOCHASTIC then
          local th = thresholds(wfmt, wth, (i - 1) * wWords * 4 + 1, dim)
          for c = 1, dim do out[c] = encodeCode(wfmt, w[c], th[c]) end
        else
          for c = 1, dim do out[c] = encodeCode(wfmt, w[c], 0) end
        end
      else
        for c = 1, dim do out[c] = w[c] end
      end
      if sfmt then
        if ss > 0 and sfmt.rule == RULE_STOCHASTIC then
          local th = thresholds(sfmt, sth, (i - 1) * sWords * 4 + 1, ss)
          for c = 1, ss do out[dim + c] = encodeCode(sfmt, s[c], th[c]) end
        elseif ss > 0 then
          for c = 1, ss do out[dim + c] = encodeCode(sfmt, s[c], 0) end
        end
      else
        for c = 1, ss do out[dim + c] = s[c] end
      end
      writes[#writes + 1] = base
      writes[#writes + 1] = spack(recFmt, unpack(out, 1, dim + ss))
    end
  end
  for j = 1, #writes, 2 do redis.call('SETRANGE', key, writes[j], writes[j + 1]) end
  -- The rows written, then the rows (in the block) left unchanged.
  local reply = {#writes / 2}
  for j = 1, #skipped do reply[j + 1] = skipped[j] end
  return reply
end

redis.register_function{function_name='${READ_FUNCTION}', callback=read, flags={'no-writes'}}
redis.register_function('${UPDATE_FUNCTION}', update)
`;
