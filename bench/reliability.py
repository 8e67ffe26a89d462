"""`make reliability`: run the reliability suites with pytest and merge the figures they write to
var/reliability/*.json into bench/reliability.json (the same tests run in `make test`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "var" / "reliability"
OUT = ROOT / "bench" / "reliability.json"
SUITES = {
    "authz": "tests/hybridqc/test_authz_matrix.py",
    "fuzz": "tests/hybridqc/test_fuzz.py",
    "xss": "tests/hybridqc/test_xss.py",
    "faults": "tests/hybridqc/test_faults.py",
    "csp": "tests/hybridqc/test_csp_browser.py",
}
# What "done" means for each figure (issue: nothing stuck, nothing lost, nobody in).
TARGETS = {"authz_violations": 0, "fuzz_server_errors": 0, "fuzz_partial_writes": 0, "xss_executions": 0,
           "csp_violations": 0, "faults_labels_lost": 0, "faults_examples_stuck": 0, "faults_duplicates": 0}
MINIMA = {"fuzz_cases": 10_000, "xss_payloads": 50, "faults_run": 6, "csp_pages": 17}


def suite_run(name: str, path: str) -> dict[str, object]:
    (FIGURES / f"{name}.json").unlink(missing_ok=True)  # a suite that fails early leaves no stale figures
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", path, "-q", "-p", "no:cacheprovider"], cwd=ROOT)
    figures_file = FIGURES / f"{name}.json"
    figures = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    return {**figures, f"{name}_passed": proc.returncode == 0, f"{name}_seconds": round(time.monotonic() - started, 1)}


def main(names: list[str]) -> int:
    FIGURES.mkdir(parents=True, exist_ok=True)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in names or list(SUITES):
        results.update(suite_run(name, SUITES[name]))
    OUT.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    misses = [f"{k}={results.get(k)} (want {v})" for k, v in TARGETS.items() if results.get(k) != v]
    misses += [f"{k}={results.get(k)} (want >= {v})" for k, v in MINIMA.items() if (results.get(k) or 0) < v]
    for key in sorted(results):
        if not isinstance(results[key], list):
            print(f"{key}: {results[key]}")
    if misses:
        print("not met: " + "; ".join(misses))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
