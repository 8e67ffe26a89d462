"""Where the shared limits of routing/judging/limits.py live: Redis (every worker) or this process.

Both stores keep the same rules. Slots: expired leases are dropped first; a slot is granted while
fewer than the limit are held and no other worker is waiting (or the caller is waiting itself);
a refused caller is marked waiting for ``WAIT_S``. Buckets: each holds up to one minute's budget and
refills continuously; a request is taken whole or not at all (the answer is how long to wait), and
a correction after the reply (``force``) may take the token bucket below zero.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis


@dataclass(frozen=True)
class EndpointLimit:
    """The limits of one provider endpoint (0 = none); ``key`` names the endpoint, not the chunk."""

    key: str
    concurrency: int
    requests_per_minute: int = 0
    tokens_per_minute: int = 0


WAIT_S = 0.5
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
# KEYS: holders, waiters. ARGV: limit, slot, worker, lease_ms, wait_ms. 1 = granted.
_ACQUIRE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local waiting = redis.call('ZSCORE', KEYS[2], ARGV[3])
local others = redis.call('ZCARD', KEYS[2]) - (waiting and 1 or 0)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) and (others == 0 or waiting) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[4]))
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[3])
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[5]))
return 0
"""
# KEYS: holders. ARGV: lease_ms, slots... Returns the slots no longer held (their lease lapsed).
_RENEW = _NOW + """
local lapsed = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
  else
    table.insert(lapsed, ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[1]))
return lapsed
"""
# KEYS: bucket hash. ARGV: rpm, tpm, requests, tokens, force. Returns the wait in ms (0 = taken).
_TAKE = _NOW + """
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local want_r, want_t = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'r', 't', 'ts')
local elapsed = now - (tonumber(b[3]) or now)
local r = math.min(rpm, (tonumber(b[1]) or rpm) + elapsed * rpm / 60000)
local t = math.min(tpm, (tonumber(b[2]) or tpm) + elapsed * tpm / 60000)
local wait = 0
if ARGV[5] ~= '1' then
  if rpm > 0 and r < want_r then wait = math.max(wait, (want_r - r) * 60000 / rpm) end
  local need = math.min(want_t, tpm)
  if tpm > 0 and t < need then wait = math.max(wait, (need - t) * 60000 / tpm) end
end
if wait == 0 then r = r - want_r; t = t - want_t end
redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(t), 'ts', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return math.ceil(wait)
"""


class RedisStore:
    """The limits in Redis, shared by every worker that points at the same server."""

    def __init__(self, url: str, limit: EndpointLimit, *, lease_s: float) -> None:
        self.limit, self.lease_ms = limit, int(lease_s * 1000)
        self.redis = aioredis.Redis.from_url(url)
        prefix = f"hybridqc:judge-limit:{limit.key}"
        self.slots, self.waiters, self.bucket = f"{prefix}:slots", f"{prefix}:waiters", f"{prefix}:bucket"
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._renew = self.redis.register_script(_RENEW)
        self._take = self.redis.register_script(_TAKE)

    async def acquire(self, slot: str, worker: str) -> bool:
        args: list[str | int] = [self.limit.concurrency, slot, worker, self.lease_ms, int(WAIT_S * 1000)]
        return bool(await self._acquire(keys=[self.slots, self.waiters], args=args))

    async def renew(self, slots: list[str]) -> list[str]:
        lapsed = await self._renew(keys=[self.slots], args=[self.lease_ms, *slots])
        return [s.decode() if isinstance(s, bytes) else str(s) for s in lapsed]

    async def release(self, slots: list[str]) -> None:
        if slots:
            await self.redis.zrem(self.slots, *slots)

    async def take(self, requests: int, tokens: int, force: bool = False) -> float:
        args = [self.limit.requests_per_minute, self.limit.tokens_per_minute, requests, tokens, int(force)]
        return int(await self._take(keys=[self.bucket], args=args)) / 1000

    async def aclose(self) -> None:
        await self.redis.aclose()


class MemoryStore:
    """The same rules for the runs of one process (each on its own event loop thread)."""

    def __init__(self, limit: EndpointLimit, *, lease_s: float) -> None:
        self.limit, self.lease_s = limit, lease_s
        self._lock = threading.Lock()
        self._slots: dict[str, float] = {}
        self._waiters: dict[str, float] = {}
        self._bucket: dict[str, Any] = {}

    def _expire(self, now: float) -> None:
        self._slots = {k: v for k, v in self._slots.items() if v > now}
        self._waiters = {k: v for k, v in self._waiters.items() if v > now}

    async def acquire(self, slot: str, worker: str) -> bool:
        with self._lock:
            now = time.monotonic()
            self._expire(now)
            waiting = worker in self._waiters
            others = len(self._waiters) - int(waiting)
            if len(self._slots) < self.limit.concurrency and (others == 0 or waiting):
                self._slots[slot] = now + self.lease_s
                self._waiters.pop(worker, None)
                return True
            self._waiters[worker] = now + WAIT_S
            return False

    async def renew(self, slots: list[str]) -> list[str]:
        with self._lock:
            held = [s for s in slots if s in self._slots]
            self._slots.update(dict.fromkeys(held, time.monotonic() + self.lease_s))
            return [s for s in slots if s not in self._slots]

    async def release(self, slots: list[str]) -> None:
        with self._lock:
            for slot in slots:
                self._slots.pop(slot, None)

    async def take(self, requests: int, tokens: int, force: bool = False) -> float:
        rpm, tpm = self.limit.requests_per_minute, self.limit.tokens_per_minute
        with self._lock:
            now = time.monotonic()
            elapsed = now - self._bucket.get("ts", now)
            r = min(rpm, self._bucket.get("r", rpm) + elapsed * rpm / 60)
            t = min(tpm, self._bucket.get("t", tpm) + elapsed * tpm / 60)
            wait = 0.0
            if not force:
                if rpm and r < requests:
                    wait = (requests - r) * 60 / rpm
                if tpm and t < min(tokens, tpm):
                    wait = max(wait, (min(tokens, tpm) - t) * 60 / tpm)
            if wait == 0:
                r, t = r - requests, t - tokens
            self._bucket.update(r=r, t=t, ts=now)
            return wait

    async def aclose(self) -> None:
        """The state outlives one run: other runs in this process share it."""
