-- Releases what one admission holds and adds its real usage.
--
-- ARGV: member, then four per op: kind, x, y, ttl_ms (0: no expiry)
-- KEYS, per op by kind:
--   p  calls in flight (zset): release the slot
--   b  spent in the window, reservations (zset), reserved sum:
--      release the reservation of amount x ('0': none), add cost y
--   t  tokens this minute: add x tokens
-- A reservation that already lapsed is not released twice.
local member = ARGV[1]
local n = (#ARGV - 1) / 4
local k = 1
for i = 1, n do
  local a = 1 + (i - 1) * 4
  local kind, x, y, ttl = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
  if kind == 'p' then
    redis.call('ZREM', KEYS[k], member)
    k = k + 1
  elseif kind == 'b' then
    if tonumber(x) > 0 and redis.call('ZREM', KEYS[k + 1], member .. '|' .. x) == 1 then
      if redis.call('ZCARD', KEYS[k + 1]) == 0 then
        redis.call('DEL', KEYS[k + 2])
      else
        redis.call('INCRBYFLOAT', KEYS[k + 2], '-' .. x)
      end
    end
    if tonumber(y) > 0 then
      redis.call('INCRBYFLOAT', KEYS[k], y)
      if ttl > 0 then
        redis.call('PEXPIRE', KEYS[k], ttl)
      end
    end
    k = k + 3
  elseif kind == 't' then
    if tonumber(x) > 0 then
      redis.call('INCRBY', KEYS[k], x)
      redis.call('PEXPIRE', KEYS[k], ttl)
    end
    k = k + 1
  end
end
return 1
