"""``python -m routing.judging.fake_judge --port 8765 --latency-ms 200`` (no Django needed)."""

from routing.judging.fake_judge.cli import main

raise SystemExit(main())
