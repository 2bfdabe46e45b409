-- Checks every counter of one request, then takes them all, or refuses
-- touching none (pruning expired holds is not a change anyone can see).
-- Redis does not roll back a script that fails part-way, so the first loop
-- also makes sure every write of the second will succeed: a counter that
-- holds a wrong type or a non-number fails the script before anything is
-- taken.
--
-- ARGV: now_ms, member, hold_until_ms, hold_ms, then four per check:
--   kind, limit, ttl_ms, amount
-- KEYS, per check by kind:
--   b (budget)   spent in the window, reservations (zset), reserved sum
--   r (rpm)      requests this minute
--   t (tpm)      tokens this minute
--   p (parallel) calls in flight (zset)
-- A reservation's member is "<member>|<amount>" scored by when it lapses;
-- a slot's member is "<member>", likewise.
-- Returns {'1', after_1, ..., after_n} or {'0', i, current, reserved}.
local now, member, hold_until, hold_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local BAD = 'ERR a limit counter holds a value that is not a number'

-- A counter's value as a finite number (0 if absent), or nil.
local function number(raw)
  if not raw then
    return 0
  end
  if string.find(raw, '%s') then
    return nil
  end
  local v = tonumber(raw)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then
    return nil
  end
  return v
end

-- Whether INCR takes the value (an integer without leading zeros).
local function integer(raw)
  return not raw or raw == '0' or (string.match(raw, '^%-?[1-9]%d*$') ~= nil and #raw <= 19)
end
local n = (#ARGV - 4) / 4
local seen, held = {}, {}
local k = 1
for i = 1, n do
  local a = 4 + (i - 1) * 4
  local kind, limit = ARGV[a + 1], tonumber(ARGV[a + 2])
  if kind == 'b' then
    local spent = number(redis.call('GET', KEYS[k]))
    if spent == nil then
      return redis.error_reply(BAD)
    end
    local res, sum = KEYS[k + 1], KEYS[k + 2]
    local lapsed = redis.call('ZRANGEBYSCORE', res, '-inf', now)
    if #lapsed > 0 then
      local gone = 0
      for _, m in ipairs(lapsed) do
        gone = gone + (tonumber(string.match(m, '|([^|]*)$')) or 0)
      end
      redis.call('ZREMRANGEBYSCORE', res, '-inf', now)
      redis.call('INCRBYFLOAT', sum, tostring(-gone))
    end
    local reserved = 0
    if redis.call('ZCARD', res) == 0 then
      redis.call('DEL', sum)
    else
      reserved = number(redis.call('GET', sum))
      if reserved == nil then
        return redis.error_reply(BAD)
      end
      reserved = math.max(0, reserved)
    end
    if spent + reserved >= limit then
      return {'0', tostring(i), tostring(spent), tostring(reserved)}
    end
    seen[i], held[i] = spent, reserved
    k = k + 3
  else
    local v
    if kind == 'p' then
      redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now)
      v = redis.call('ZCARD', KEYS[k])
    else
      local raw = redis.call('GET', KEYS[k])
      v = number(raw)
      if v == nil or (kind == 'r' and not integer(raw)) then
        return redis.error_reply(BAD)
      end
    end
    if v >= limit then
      return {'0', tostring(i), tostring(v), '0'}
    end
    seen[i] = v
    k = k + 1
  end
end

local out = {'1'}
k = 1
for i = 1, n do
  local a = 4 + (i - 1) * 4
  local kind, ttl, amount = ARGV[a + 1], ARGV[a + 3], ARGV[a + 4]
  if kind == 'b' then
    local reserved = held[i]
    if tonumber(amount) > 0 then
      redis.call('ZADD', KEYS[k + 1], hold_until, member .. '|' .. amount)
      redis.call('INCRBYFLOAT', KEYS[k + 2], amount)
      redis.call('PEXPIRE', KEYS[k + 1], hold_ms)
      redis.call('PEXPIRE', KEYS[k + 2], hold_ms)
      reserved = reserved + tonumber(amount)
    end
    out[i + 1] = tostring(seen[i] + reserved)
    k = k + 3
  elseif kind == 'r' then
    local v = redis.call('INCR', KEYS[k])
    redis.call('PEXPIRE', KEYS[k], ttl)
    out[i + 1] = tostring(v)
    k = k + 1
  elseif kind == 'p' then
    redis.call('ZADD', KEYS[k], hold_until, member)
    redis.call('PEXPIRE', KEYS[k], hold_ms)
    out[i + 1] = tostring(seen[i] + 1)
    k = k + 1
  else
    out[i + 1] = tostring(seen[i])
    k = k + 1
  end
end
return out
