"""One provider limit shared by every worker: concurrent requests, requests and tokens per minute.

A judge configuration's ``max_concurrency``, ``requests_per_minute`` and ``tokens_per_minute`` are
the provider's limits, not a chunk's: N workers judging one batch must hold them together. The
state lives in Redis (atomic Lua scripts) when a broker is configured, else in this process (the
embedded demo runs every task here):

- concurrency: a sorted set of slot leases scored by expiry; a slot is granted only while fewer
  than the limit are held, and a worker that dies stops renewing its leases, so they lapse after
  ``LEASE_S`` and its share returns to the others;
- requests and tokens per minute: two token buckets refilled continuously, on Redis's clock.

Taking a slot from the store for every request would cost two round trips per request at
hundreds a second, so a worker keeps a slot it just used for its next request (up to ``REUSE``
times, then gives it back so other workers get their turn) and gives back slots idle for
``IDLE_S``. A worker the store refuses is marked waiting, and a slot given back goes to a waiting
worker before its former holder may take it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from routing.judging.limit_stores import EndpointLimit, MemoryStore, RedisStore

log = logging.getLogger(__name__)
LEASE_S = 10.0
REUSE = 64
IDLE_S = 0.5
POLL_S = 0.02




def endpoint_key(*, base_url: str, model: str, api_key_env: str) -> str:
    """Providers limit per account and model: every configuration (and version) that sends the
    same key to the same endpoint and model shares one limit."""
    raw = "\x1f".join((base_url.rstrip("/").lower(), model, api_key_env))
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


class LimitStore(Protocol):
    async def acquire(self, slot: str, worker: str) -> bool: ...

    async def renew(self, slots: list[str]) -> list[str]: ...

    async def release(self, slots: list[str]) -> None: ...

    async def take(self, requests: int, tokens: int, force: bool = False) -> float: ...

    async def aclose(self) -> None: ...


@dataclass
class _Slot:
    id: str
    uses: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class SharedLimiter:
    """The limits of one endpoint as seen by one worker's event loop."""

    def __init__(self, limit: EndpointLimit, store: LimitStore) -> None:
        self.limit, self.store = limit, store
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ids = itertools.count()
        self._free: list[_Slot] = []
        self._held: dict[str, _Slot] = {}
        self._line = asyncio.Lock()  # FIFO: one coroutine at a time asks the store
        self._freed = asyncio.Event()
        self._renewer: asyncio.Task[None] | None = None

    async def acquire(self) -> str:
        """A slot for one request, waiting while the shared limit is reached."""
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever())
        async with self._line:
            while True:
                if self._free:
                    return self._free.pop().id
                slot = _Slot(f"{self.worker}:{next(self._ids)}")
                if await self.store.acquire(slot.id, self.worker):
                    self._held[slot.id] = slot
                    return slot.id
                self._freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._freed.wait(), POLL_S)

    async def release(self, slot_id: str) -> None:
        slot = self._held[slot_id]
        slot.uses += 1
        slot.idle_since = time.monotonic()
        if slot.uses < REUSE:
            self._free.append(slot)
        else:
            del self._held[slot_id]
            await self.store.release([slot_id])
        self._freed.set()

    async def rate(self, tokens: int) -> None:
        """Wait until the per-minute budgets allow one more request of about ``tokens`` tokens."""
        if not (self.limit.requests_per_minute or self.limit.tokens_per_minute):
            return
        while (wait := await self.store.take(1, tokens)) > 0:
            await asyncio.sleep(wait)

    async def spent(self, extra_tokens: int) -> None:
        """Correct the token budget once the reply says what the request really used."""
        if self.limit.tokens_per_minute and extra_tokens:
            await self.store.take(0, extra_tokens, force=True)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(IDLE_S)
            idle = [s for s in self._free if time.monotonic() - s.idle_since > IDLE_S]
            if idle:
                self._free = [s for s in self._free if s not in idle]
                for slot in idle:
                    del self._held[slot.id]
                await self.store.release([s.id for s in idle])
            await self._renew_due()

    async def _renew_due(self) -> None:
        held = list(self._held)
        lapsed = await self.store.renew(held) if held else []
        # Slots given back while the call ran are gone too; the others lapsed because this event
        # loop stalled longer than a lease, and another worker may hold them now.
        lost = [s for s in lapsed if s in self._held]
        if lost:
            log.warning("judge limiter %s: %d slot lease(s) lapsed", self.limit.key, len(lost))

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._held:
            await self.store.release(list(self._held))
        self._held.clear()
        self._free.clear()
        await self.store.aclose()


_memory: dict[str, MemoryStore] = {}
_memory_lock = threading.Lock()


def limiter_for(limit: EndpointLimit, redis_url: str) -> SharedLimiter:
    """The limiter of ``limit``: shared through Redis when ``redis_url`` is set, else by every
    run in this process."""
    if redis_url:
        return SharedLimiter(limit, RedisStore(redis_url, limit, lease_s=LEASE_S))
    with _memory_lock:
        store = _memory.setdefault(limit.key, MemoryStore(limit, lease_s=LEASE_S))
    return SharedLimiter(limit, store)
