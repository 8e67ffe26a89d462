"""A live judge on any OpenAI-compatible endpoint, through the official ``openai`` SDK.

Retries are ours (the SDK's are off) so that every try counts against the configuration's retry
budget, Retry-After is honoured, and a verdict that still fails becomes ``error`` text that sends
the example to humans with that reason.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from routing.judging.base import Verdict, VerdictRequest, choice_from_letter
from routing.judging.fewshot import fewshot_block
from routing.judging.guards import EndpointPolicy, PolicyRefused
from routing.judging.limits import EndpointLimit, SharedLimiter, limiter_for
from routing.judging.prompts import (
    DEFAULT_PAIRWISE_PROMPT,
    DEFAULT_RATING_PROMPT,
    SYSTEM_PROMPT,
    Parsed,
    output_format,
    pairwise_options,
    rating_options,
    render,
    verdict_parse,
    verdict_probability,
)
from routing.judging.transport import http_client

log = logging.getLogger(__name__)
# The HTTP client logs every request at INFO: hundreds of lines a second at full concurrency.
for _name in ("httpx", "httpx2"):
    logging.getLogger(_name).setLevel(logging.WARNING)
MAX_DELAY_S = 60.0
REDIRECT_REFUSED = "judge endpoint answered a redirect (3xx); redirects are not followed"
REFUSED_TO_ANSWER = "the judge refused to answer"
JSON_BODY: Any = {"headers": {"Content-Type": "application/json"}}


@dataclass(frozen=True)
class JudgeSettings:
    """What the backend needs from a JudgeConfig (plain values: safe to use off the ORM thread)."""

    key: str
    base_url: str
    model: str
    api_key: str
    pairwise_prompt: str = ""
    rating_prompt: str = ""
    temperature: float = 0.0
    samples: int = 1
    timeout_s: float = 60.0
    retry_budget: int = 3
    backoff_s: float = 0.5
    request_logprobs: bool = True
    json_mode: bool = True
    endpoint: EndpointPolicy = EndpointPolicy()
    # The provider's limits, shared by every worker through the store at ``limit_store_url``
    # (Redis), or by the runs of this process when it is empty.
    limit: EndpointLimit | None = None
    limit_store_url: str = ""


class Transient(Exception):
    """A failure worth another try; ``retry_after`` is the server's wish, if it said one."""

    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind, self.retry_after = kind, retry_after


class Permanent(Exception):
    """A failure another try will not fix (bad request, auth, a refusal)."""


def retry_after_seconds(headers: Any) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None if absent or unreadable."""
    raw = headers.get("retry-after") if headers is not None else None
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAIJudge:
    """Judges one verdict per call; safe to call concurrently from one event loop."""

    def __init__(self, settings: JudgeSettings) -> None:
        self.name = settings.key
        self.s = settings
        # Capability flags: downgraded once if the server rejects the parameter (400).
        self.json_mode = settings.json_mode
        self.logprobs = settings.request_logprobs
        self.client = openai.AsyncOpenAI(
            base_url=settings.base_url, api_key=settings.api_key, max_retries=0, timeout=settings.timeout_s,
            http_client=http_client(settings.base_url, settings.timeout_s, settings.endpoint),
        )
        # Absolute: the SDK then skips joining (and re-parsing) the base URL on every request.
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self.limiter: SharedLimiter | None = (
            limiter_for(settings.limit, settings.limit_store_url) if settings.limit else None)

    async def aclose(self) -> None:
        await self.client.close()
        if self.limiter is not None:
            await self.limiter.aclose()

    def messages(self, r: VerdictRequest) -> list[dict[str, str]]:
        fmt = output_format(r.task, json_mode=self.json_mode, scale_min=r.scale_min, scale_max=r.scale_max)
        if r.task == "pairwise":
            a, b = r.shown
            template = self.s.pairwise_prompt or DEFAULT_PAIRWISE_PROMPT
            values = {"question": r.prompt, "answer_a": a, "answer_b": b, "output_format": fmt}
        else:
            template = self.s.rating_prompt or DEFAULT_RATING_PROMPT
            values = {"question": r.prompt, "answer": r.responses[0], "output_format": fmt,
                      "scale_min": str(r.scale_min), "scale_max": str(r.scale_max)}
        # The few-shot section comes first: the question, answers and output format stay last, where
        # the default prompts put them, whatever the template.
        content = fewshot_block(r.fewshot, r.task, r.variant) + render(template, values)
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]

    def request_kwargs(self, r: VerdictRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.s.model, "messages": self.messages(r),
                                  "temperature": self.s.temperature}
        if self.s.samples > 1:
            kwargs["seed"] = r.sample  # distinct samples where the server honours seeds
        if self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if self.logprobs:
            kwargs["logprobs"], kwargs["top_logprobs"] = True, 5
        return kwargs

    async def judge(self, request: VerdictRequest) -> Verdict:
        started = time.monotonic()
        verdict = Verdict(request=request, attempts=0)
        budget, downgrades = max(1, self.s.retry_budget), 0
        while True:
            verdict.attempts += 1
            try:
                await self._try(request, verdict)
                break
            except Transient as exc:
                if verdict.attempts >= budget:
                    verdict.error = f"judge failed: {exc.kind} after {verdict.attempts} tries"
                    break
                await asyncio.sleep(self._delay(verdict.attempts, exc.retry_after))
            except Permanent as exc:
                verdict.error = f"judge failed: {exc}"
                break
            except _Downgrade:
                # Capability probe, not a fault: does not use the retry budget (at most twice).
                verdict.attempts -= 1
                downgrades += 1
                if downgrades > 2:
                    verdict.error = "judge failed: server rejects the request parameters"
                    break
        verdict.latency_ms = int((time.monotonic() - started) * 1000)
        return verdict

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_DELAY_S)
        base = self.s.backoff_s * (2 ** (attempt - 1))
        return min(base * (1 + random.random() * 0.25), MAX_DELAY_S)

    async def _try(self, request: VerdictRequest, verdict: Verdict) -> None:
        data = await self._call(request)
        try:
            self._read(request, verdict, data)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            # JSON of the wrong shape: one odd reply must not fail the whole chunk.
            raise Transient("malformed reply") from exc

    def _read(self, request: VerdictRequest, verdict: Verdict, data: dict[str, Any]) -> None:
        usage = data.get("usage") or {}
        verdict.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        verdict.completion_tokens += int(usage.get("completion_tokens") or 0)
        choices = data.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            raise Transient("empty response")
        choice = choices[0]
        message = choice.get("message") or {}
        if message.get("refusal") or choice.get("finish_reason") == "content_filter":
            raise self._refused(str(message.get("refusal") or "content filter"))
        parsed = verdict_parse(message.get("content"), request.task, lo=request.scale_min, hi=request.scale_max)
        if parsed.problem == "refusal":
            raise self._refused(parsed.rationale)
        if parsed.problem:
            raise Transient(parsed.problem)
        self._fill(verdict, request, parsed, choice.get("logprobs"))

    def _fill(self, verdict: Verdict, request: VerdictRequest, parsed: Parsed, logprobs: Any) -> None:
        verdict.rationale = parsed.rationale
        if request.task == "pairwise":
            assert parsed.letter is not None
            verdict.choice = choice_from_letter(parsed.letter, request.order)
            options = pairwise_options()
        else:
            verdict.rating = parsed.rating
            options = rating_options(request.scale_min, request.scale_max)
        verdict.probability = verdict_probability(logprobs, parsed.token, options)

    async def _call(self, request: VerdictRequest) -> dict[str, Any]:
        kwargs = self.request_kwargs(request)
        content = json.dumps(kwargs).encode()
        if self.limiter is None:
            return await self._post(kwargs, content)
        # About four bytes a token: the budget is corrected by the reply's usage.
        estimate = len(content) // 4
        await self.limiter.rate(estimate)
        slot = await self.limiter.acquire()
        try:
            data = await self._post(kwargs, content)
        finally:
            await self.limiter.release(slot)
        usage = data.get("usage")
        used = usage.get("total_tokens") if isinstance(usage, dict) else None
        await self.limiter.spent(int(used) - estimate if isinstance(used, int) else 0)
        return data

    async def _post(self, kwargs: dict[str, Any], content: bytes) -> dict[str, Any]:
        try:
            # The SDK's generic POST: the same auth, headers and status-error mapping as
            # chat.completions.create, without its per-call transformation and deep copies of our
            # (already plain JSON) parameters and its typed-model construction of the reply: together
            # the largest CPU cost per call at hundreds of calls a second. We read the fields we need.
            response = await self.client.post(self.url, content=content,
                                              cast_to=httpx2.Response, options=JSON_BODY)
            data = json.loads(response.content)
            if not isinstance(data, dict):
                raise ValueError("the reply is not a JSON object")
            return data
        except PolicyRefused as exc:
            raise Permanent(str(exc)) from exc  # the host check before the request (fixed text)
        except openai.APITimeoutError as exc:
            raise Transient("timeout") from exc
        except openai.APIConnectionError as exc:
            raise Transient("connection error") from exc
        except openai.BadRequestError as exc:
            self._downgrade(exc, kwargs)
            raise self._status_failure(exc) from exc
        except openai.APIStatusError as exc:
            raise self._status_failure(exc) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            # A 200 whose body is not the JSON it claims to be.
            raise Transient("malformed JSON response") from exc

    def _status_failure(self, exc: openai.APIStatusError) -> Exception:
        """A fixed summary of an error status. The reply's body goes to the DEBUG log only: an
        endpoint can put anything there (an internal service's page, if the URL points at one)."""
        code = exc.status_code
        log.debug("%r: HTTP %d from the judge endpoint: %.300r", self.name, code, exc.message)
        if 300 <= code < 400:
            return Permanent(REDIRECT_REFUSED)
        if code == 429:
            return Transient("rate limited (429)", retry_after_seconds(exc.response.headers))
        if code >= 500:
            return Transient(f"server error {code}", retry_after_seconds(exc.response.headers))
        if code == 400:
            return Permanent("bad request (400)")
        return Transient(f"HTTP {code}") if code in (408, 409) else Permanent(f"HTTP {code}")

    def _refused(self, text: str) -> Permanent:
        # The refusal's wording is the reply's text: logged, not stored.
        log.debug("%r: the judge refused: %.300r", self.name, text)
        return Permanent(REFUSED_TO_ANSWER)

    def _downgrade(self, exc: openai.BadRequestError, sent: dict[str, Any]) -> None:
        """Servers without json_object mode or logprobs reject them with a 400 naming the param:
        drop it for the rest of the run and fall back to the strict text format. (Concurrent
        requests sent before the first rejection arrive here too: they just try again.)"""
        text = f"{getattr(exc, 'param', '') or ''} {exc.message}".lower()
        if "response_format" in sent and "response_format" in text:
            if self.json_mode:
                log.info("%r: server has no JSON mode; using the text verdict format", self.name)
            self.json_mode = False
            raise _Downgrade
        if "logprobs" in sent and "logprobs" in text:
            if self.logprobs:
                log.info("%r: server has no logprobs; verdict probabilities will be empty", self.name)
            self.logprobs = False
            raise _Downgrade


class _Downgrade(Exception):
    pass
