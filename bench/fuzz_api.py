"""Fuzz a real `policyqa serve` process from its own OpenAPI schema with schemathesis (issue 15 target: 0 responses
>= 500 over >= 10,000 requests, 0 schema violations).

    .venv/bin/python bench/fuzz_api.py [--requests 10000] [--seed 15] [--index-dir DIR | --url http://127.0.0.1:8000]

Valid (positive) and invalid (negative) inputs for every route, spread evenly; every response goes through
schemathesis' checks (no 5xx, documented status code, content type, headers and response schema, invalid input
refused). A failing check is recorded and the run goes on. Prints the counts, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from serve_process import running_server

# No parameters, or only a free string in the path: nothing invalid to generate.
NOTHING_INVALID = {"GET /healthz", "GET /metrics", "GET /articles/{article_id}"}
# Parameterless routes answer the same every time; a few calls each are enough.
FIXED = {"GET /healthz": 20, "GET /metrics": 20}


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.by_route: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def call(self, case: Any, session: Any, label: str) -> None:
        try:
            response = case.call_and_validate(session=session)
            self.statuses[response.status_code] += 1
        except Exception as exc:  # a failed check: counted, kept as an example, and the run goes on
            status = getattr(getattr(exc, "response", None), "status_code", None)
            key = f"{label} {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            self.failures[key] += 1
            self.examples.setdefault(key, str(exc)[:1500])
            self.statuses[status or 0] += 1
        self.by_route[label] += 1


def run_pair(operation: Any, mode: Any, budget: int, seed: int, session: Any, tally: Tally) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    label = f"{operation.label} [{mode}]"
    if operation.label in FIXED:  # no parameters: hypothesis would stop after its one possible example
        for _ in range(budget):
            tally.call(operation.Case(), session, label)
        return

    @hypothesis_seed(seed)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=budget, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def one(case: Any) -> None:
        tally.call(case, session, label)

    one()


def fuzz(base: str, total: int, seed: int) -> dict[str, Any]:
    import requests
    import schemathesis
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    plan = [
        (op, mode)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if not (mode == GenerationMode.NEGATIVE and op.label in NOTHING_INVALID)
    ]
    fuzzed = [(op, mode) for op, mode in plan if op.label not in FIXED]
    per_pair = -(-(total - sum(FIXED.values())) // len(fuzzed))
    session = requests.Session()
    tally = Tally()
    for op, mode in plan:
        run_pair(op, mode, FIXED.get(op.label, per_pair), seed, session, tally)
    return {
        "requests": sum(tally.statuses.values()),
        "status_counts": {str(k): v for k, v in sorted(tally.statuses.items())},
        "server_errors": sum(v for k, v in tally.statuses.items() if k >= 500),
        "check_failures": sum(tally.failures.values()),
        "failures": dict(tally.failures),
        "by_route": dict(tally.by_route),
        "examples": tally.examples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "policyqa-bench-server")
    parser.add_argument("--url", help="a server already running; otherwise one is started on --index-dir")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    started = time.perf_counter()
    with nullcontext(args.url) if args.url else running_server(args.index_dir) as base:
        result = fuzz(base, args.requests, args.seed)
    result["seconds"] = round(time.perf_counter() - started, 1)
    for route, n in sorted(result["by_route"].items()):
        print(f"{n:>6}  {route}")
    print(f"{result['requests']} requests in {result['seconds']} s; statuses {result['status_counts']}")
    print(f"responses >= 500: {result['server_errors']}; failed checks: {result['check_failures']}")
    for key, n in result["failures"].items():
        print(f"  {n:>5} x {key}")
    for key, text in list(result.pop("examples").items())[:3]:
        print(f"--- {key}\n{text}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    return 1 if result["server_errors"] or result["check_failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
