"""Command-line front of the fake judge server (shared by ``-m`` and the management command)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from routing.judging.fake_judge.replay import Replay
from routing.judging.fake_judge.server import (
    FAULT_KINDS,
    RANDOM_FAULT_KINDS,
    FakeJudgeServer,
    FakeOptions,
    serve_forever,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback only by default)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests that fail")
    parser.add_argument("--errors", default=",".join(RANDOM_FAULT_KINDS),
                        help=f"comma-separated fault mix, from {','.join(FAULT_KINDS)}")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429")
    parser.add_argument("--hang-s", type=float, default=30.0, help="how long a 'timeout' fault hangs")
    parser.add_argument("--no-json-mode", action="store_true", help="reject response_format (text fallback)")
    parser.add_argument("--no-logprobs", action="store_true", help="reject logprobs")
    parser.add_argument("--replay", default="", help="format-v1 file whose recorded verdicts to replay")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency-limit", type=int, default=0,
                        help="count completions arriving while this many are in flight (0 = off)")


def server_from(args: argparse.Namespace) -> FakeJudgeServer:
    kinds = tuple(k.strip() for k in args.errors.split(",") if k.strip())
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        raise SystemExit(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    options = FakeOptions(latency_ms=args.latency_ms, error_rate=args.error_rate, error_kinds=kinds,
                          retry_after_s=args.retry_after, hang_s=args.hang_s, json_mode=not args.no_json_mode,
                          logprobs=not args.no_logprobs, seed=args.seed,
                          concurrency_limit=args.concurrency_limit)
    replay = Replay.from_file(args.replay) if args.replay else None
    return FakeJudgeServer(options, replay, host=args.host, port=args.port)


def run(args: argparse.Namespace) -> None:
    server = server_from(args)
    print(f"fake judge: http://{args.host}:{args.port}/v1 (latency {args.latency_ms:g} ms, "
          f"error rate {args.error_rate:g}, replay {args.replay or 'none'})", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(server))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fake_judge", description="fake OpenAI-compatible judge server")
    add_arguments(parser)
    run(parser.parse_args(argv))
    return 0
