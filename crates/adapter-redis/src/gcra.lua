-- The cluster rate limiters: one GCRA step for one key (a user's messages, or the attempts of
-- one email or one client address), atomic because Redis runs a script alone. The key holds
-- the theoretical arrival time (TAT) in microseconds of Redis's clock, so the nodes' clocks do
-- not matter.
--
-- KEYS[1]: the budget's key, prefixed by the caller. ARGV[1]: emission interval (microseconds per unit of budget).
-- ARGV[2]: burst (the whole budget, at least 1).
-- Returns 0 when the send may go (and records it), else the microseconds until it may.
if redis.replicate_commands then
  -- Redis before 5 replicates scripts verbatim and refuses TIME before a write without this.
  redis.replicate_commands()
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local allowed_from = tat - interval * (burst - 1)
if now < allowed_from then
  return allowed_from - now
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 0
