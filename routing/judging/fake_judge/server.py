"""The fake OpenAI-compatible server: asyncio HTTP/1.1 with keep-alive, stdlib only.

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /stats`` (request counts,
faults served, completions in flight: now, at most, and over ``concurrency_limit``; arrival times
per request key with ``?detail=1``), ``POST /reset`` (zero the
stats and fault counters), ``POST /control`` (change options, JSON body of FakeOptions fields).

Faults: at random (``error_rate`` over ``error_kinds``), or scripted per request by a directive
in the prompt, ``{{fault:KIND}}`` (always) or ``{{fault:KIND:N}}`` (the first N tries of that exact
request, then a normal answer). KIND is one of FAULT_KINDS (random faults draw only from
RANDOM_FAULT_KINDS unless told otherwise). Error bodies carry REPLY_BODY_MARKER, so tests can check
that no reply text reaches stored errors; ``302`` redirects to ``/redirected``, whose hits ``/stats``
counts as ``redirects_followed``. Directives count only in the judged
part of a prompt, not in its few-shot section (history texts may carry them).

Verdicts are deterministic: replayed per judged item (every prompt variant of it gets the recorded
verdict), else hashed from the whole prompt (so few-shot variants of an unknown item may differ,
as simulated annotators do).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

from routing.judging.fake_judge.replay import Replay, hashed_pairwise, hashed_rating
from routing.judging.fewshot import fewshot_strip

RANDOM_FAULT_KINDS = ("429", "500", "503", "timeout", "reset", "malformed", "empty", "refusal")
FAULT_KINDS = (*RANDOM_FAULT_KINDS, "400", "302")
REPLY_BODY_MARKER = "fake-judge-reply-body-7f3a"
_DIRECTIVE = re.compile(r"\{\{fault:([a-z0-9]+)(?::(\d+))?\}\}")
_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


@dataclass
class FakeOptions:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_kinds: tuple[str, ...] = RANDOM_FAULT_KINDS
    retry_after_s: float = 1.0
    hang_s: float = 30.0
    json_mode: bool = True
    logprobs: bool = True
    seed: int = 0
    # The provider limit under test: a completion arriving while this many are in flight counts
    # as over the limit (0 = no limit).
    concurrency_limit: int = 0


class FakeJudgeServer:
    """One server instance; ``start()`` binds 127.0.0.1 (port 0 = a free port)."""

    def __init__(self, options: FakeOptions | None = None, replay: Replay | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.options = options or FakeOptions()
        self.replay = replay or Replay()
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.in_flight = 0  # a live gauge: /reset does not zero it
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.completions = 0
        self.redirects_followed = 0
        self.max_in_flight = 0
        self.over_limit = 0
        self.faults: Counter[str] = Counter()
        self.tries: Counter[str] = Counter()
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.authorization: set[str] = set()
        self.rng = random.Random(self.options.seed)

    def stats(self, detail: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"requests": self.requests, "completions": self.completions,
                               "redirects_followed": self.redirects_followed, "faults": dict(self.faults),
                               "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                               "over_limit": self.over_limit,
                               "options": asdict(self.options)}
        if detail:
            out["arrivals"] = {k: v for k, v in self.arrivals.items()}
            out["authorization"] = sorted(self.authorization)
        return out

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # Server shutdown: drop the connection (a hanging 'timeout' fault ends here).
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        keep = headers.get("connection", "").lower() != "close"
        if method == "POST" and url.path.endswith("/chat/completions"):
            return await self._counted(headers, body, writer) and keep
        if method == "GET" and url.path == "/stats":
            detail = parse_qs(url.query).get("detail", ["0"])[0] == "1"
            await self._send(writer, 200, self.stats(detail))
        elif url.path == "/redirected":
            self.redirects_followed += 1
            await self._send(writer, 200, {"redirected": True})
        elif method == "POST" and url.path == "/reset":
            self.reset()
            await self._send(writer, 200, {"ok": True})
        elif method == "POST" and url.path == "/control":
            self.configure(**json.loads(body or b"{}"))
            await self._send(writer, 200, asdict(self.options))
        elif method == "GET" and url.path.endswith("/models"):
            await self._send(writer, 200, {"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})
        else:
            await self._send(writer, 404, {"error": {"message": f"no route {method} {url.path}"}})
        return keep

    def configure(self, **changes: Any) -> None:
        known = {f.name for f in fields(FakeOptions)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown option {name}")
            setattr(self.options, name, tuple(value) if name == "error_kinds" else value)

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: Any,
                    extra: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "Content-Type: application/json",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def _counted(self, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter) -> bool:
        """A completion counted in flight from its arrival until its reply is sent (or it fails)."""
        limit = self.options.concurrency_limit
        if limit and self.in_flight >= limit:
            self.over_limit += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._completion(headers, body, writer)
        finally:
            self.in_flight -= 1

    async def _completion(self, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter) -> bool:
        self.requests += 1
        try:
            payload = json.loads(body)
            text = "\n".join(str(m.get("content", "")) for m in payload["messages"] if m.get("role") == "user")
        except (ValueError, KeyError, TypeError, AttributeError):
            error = {"message": "invalid request body", "type": "invalid_request_error"}
            await self._send(writer, 400, {"error": error})
            return True
        if "authorization" in headers:
            self.authorization.add(headers["authorization"])
        seed = int(payload.get("seed") or 0)
        key = hashlib.sha256(f"{seed}\x1f{text}".encode()).hexdigest()[:16]
        self.arrivals[key].append(time.monotonic())
        rejected = self._unsupported(payload)
        if rejected:
            await self._send(writer, 400, {"error": {"message": f"{rejected} is not supported by this server",
                                                     "type": "invalid_request_error", "param": rejected}})
            return True
        fault = self._fault_for(fewshot_strip(text), key)
        if self.options.latency_ms:
            await asyncio.sleep(self.options.latency_ms / 1000)
        if fault:
            self.faults[fault] += 1
            return await self._fault(fault, writer, payload)
        self.completions += 1
        await self._send(writer, 200, self._answer(payload, text, seed))
        return True

    def _unsupported(self, payload: dict[str, Any]) -> str | None:
        if not self.options.json_mode and payload.get("response_format"):
            return "response_format"
        if not self.options.logprobs and payload.get("logprobs"):
            return "logprobs"
        return None

    def _fault_for(self, text: str, key: str) -> str | None:
        m = _DIRECTIVE.search(text)
        if m:
            self.tries[key] += 1
            if m[2] is None or self.tries[key] <= int(m[2]):
                return m[1]
            return None
        if self.options.error_rate and self.rng.random() < self.options.error_rate:
            return self.rng.choice(list(self.options.error_kinds))
        return None

    async def _fault(self, kind: str, writer: asyncio.StreamWriter, payload: dict[str, Any]) -> bool:
        if kind == "429":
            retry = f"{self.options.retry_after_s:g}"
            await self._send(writer, 429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                             {"Retry-After": retry})
        elif kind in ("400", "500", "503"):
            message = f"fake server error {kind}: {REPLY_BODY_MARKER}"
            await self._send(writer, int(kind), {"error": {"message": message, "type": "fake_error"}})
        elif kind == "302":
            await self._send(writer, 302, {"moved": REPLY_BODY_MARKER},
                             {"Location": f"http://{self.host}:{self.port}/redirected"})
        elif kind == "timeout":
            await asyncio.sleep(self.options.hang_s)
            return False
        elif kind == "reset":
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        elif kind == "malformed":
            await self._send(writer, 200, None, raw=b'{"id": "chatcmpl-broken", "choices": [{"message": {"con')
        elif kind == "empty":
            await self._send(writer, 200, _completion(payload, "", None, 10, 0))
        elif kind == "refusal":
            await self._send(writer, 200, _completion(payload, REFUSAL_TEXT, None, 10, 12, refusal=REFUSAL_TEXT))
        else:
            await self._send(writer, 500, {"error": {"message": f"unknown fault {kind}"}})
        return True

    def _answer(self, payload: dict[str, Any], text: str, seed: int) -> dict[str, Any]:
        json_mode = bool(payload.get("response_format"))
        if "[The Start of Assistant B's Answer]" in text:
            rec = self.replay.lookup(text, seed) or hashed_pairwise(text, seed)
            if rec.letter is None:
                return _completion(payload, "The two responses cannot be compared.", None, len(text) // 4, 8)
            token = ("tie" if json_mode else "C") if rec.letter == "tie" else rec.letter
            alts = [t for t in (["A", "B", "tie" if json_mode else "C"]) if t != token]
            prob = rec.probability if rec.probability is not None else 0.9
        else:
            value, prob = hashed_rating(text, seed)
            token, alts = str(value), [str(value - 1), str(value + 1)]
        if json_mode:
            field = "verdict" if "[The Start of Assistant B's Answer]" in text else "rating"
            quote = '"' if field == "verdict" else ""
            pieces = ['{"rationale": "Fake deterministic judgement.", "' + field + '": ' + quote, token, quote + "}"]
        else:
            label = "Verdict" if "[The Start of Assistant B's Answer]" in text else "Rating"
            pieces = [f"Fake deterministic judgement.\n{label}: [[", token, "]]"]
        logprobs = _logprobs(pieces, prob, alts) if payload.get("logprobs") else None
        return _completion(payload, "".join(pieces), logprobs, len(text) // 4 + 12, 12)


def _logprobs(pieces: list[str], prob: float, alts: list[str]) -> dict[str, Any]:
    prob = min(max(prob, 1e-6), 1 - 1e-6)
    rest = [(1 - prob) * 0.8, (1 - prob) * 0.2]
    top = [{"token": pieces[1], "logprob": math.log(prob), "bytes": None}]
    top += [{"token": t, "logprob": math.log(p), "bytes": None} for t, p in zip(alts, rest, strict=False)]
    plain: dict[str, Any] = {"logprob": 0.0, "bytes": None, "top_logprobs": []}
    return {"content": [{"token": pieces[0], **plain}, {**top[0], "top_logprobs": top},
                        {"token": pieces[2], **plain}], "refusal": None}


def _completion(payload: dict[str, Any], content: str | None, logprobs: Any, prompt_tokens: int,
                completion_tokens: int, refusal: str | None = None) -> dict[str, Any]:
    message = {"role": "assistant", "content": None if refusal else content, "refusal": refusal}
    return {
        "id": f"chatcmpl-fake-{random.getrandbits(48):x}", "object": "chat.completion",
        "created": int(time.time()), "model": payload.get("model", "fake-judge"),
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class ServerThread:
    """A FakeJudgeServer on its own event loop in a daemon thread (for tests)."""

    def __init__(self, server: FakeJudgeServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fake-judge", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> ServerThread:
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake judge server did not start")
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @property
    def url(self) -> str:
        return self.server.url


def serve_in_thread(options: FakeOptions | None = None, replay: Replay | None = None) -> ServerThread:
    return ServerThread(FakeJudgeServer(options, replay)).start()


async def serve_forever(server: FakeJudgeServer) -> None:
    await server.start()
    assert server._server is not None
    async with server._server:
        await server._server.serve_forever()
