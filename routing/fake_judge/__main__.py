"""``python -m routing.fake_judge --port 8765 --latency-ms 200`` (no Django needed)."""

from .cli import main

raise SystemExit(main())
