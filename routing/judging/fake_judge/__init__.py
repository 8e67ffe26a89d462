"""A fake OpenAI-compatible chat-completions server for tests, benchmarks and demos.

Real HTTP/1.1 on 127.0.0.1 (asyncio, stdlib only). Run it with
``python manage.py fake_judge_server`` or ``python -m routing.judging.fake_judge``.
"""

from routing.judging.fake_judge.server import FakeJudgeServer, FakeOptions, serve_in_thread

__all__ = ["FakeJudgeServer", "FakeOptions", "serve_in_thread"]
