-- Releases what one admission holds and adds its real usage.
--
-- ARGV: member, then four per op: kind, x, y, ttl_ms (0: no expiry)
-- KEYS, per op by kind:
--   p  calls in flight (zset): release the slot
--   b  spent in the window, reservations (zset), reserved sum:
--      release the reservation of amount x ('0': none), add cost y
--   t  tokens this minute: add x tokens
-- A reservation that already lapsed is not released twice.
-- A counter holding a wrong type or a non-number skips that command
-- instead of failing the script part-way (which Redis would not roll back,
-- and which the caller would retry forever); any other error (OOM, say:
-- refused at the first write, before anything changed) fails the script
-- as usual. Returns how many commands were skipped.
local skipped = 0
local DATA_ERRORS = {'WRONGTYPE', 'not an integer', 'not a valid float', 'overflow', 'NaN or Infinity'}
local function call(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    for _, text in ipairs(DATA_ERRORS) do
      if string.find(reply.err, text, 1, true) then
        skipped = skipped + 1
        return nil
      end
    end
    error(reply)
  end
  return reply
end
local member = ARGV[1]
local n = (#ARGV - 1) / 4
local k = 1
for i = 1, n do
  local a = 1 + (i - 1) * 4
  local kind, x, y, ttl = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
  if kind == 'p' then
    call('ZREM', KEYS[k], member)
    k = k + 1
  elseif kind == 'b' then
    if tonumber(x) > 0 and call('ZREM', KEYS[k + 1], member .. '|' .. x) == 1 then
      if call('ZCARD', KEYS[k + 1]) == 0 then
        call('DEL', KEYS[k + 2])
      else
        call('INCRBYFLOAT', KEYS[k + 2], '-' .. x)
      end
    end
    if tonumber(y) > 0 then
      call('INCRBYFLOAT', KEYS[k], y)
      if ttl > 0 then
        call('PEXPIRE', KEYS[k], ttl)
      end
    end
    k = k + 3
  elseif kind == 't' then
    if tonumber(x) > 0 then
      call('INCRBY', KEYS[k], x)
      call('PEXPIRE', KEYS[k], ttl)
    end
    k = k + 1
  end
end
return skipped
