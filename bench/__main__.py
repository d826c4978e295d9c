"""``python -m bench [--backend sqlite|postgres] [--workers N] [--quick]``: run the benchmarks.

Prints the table and saves it as markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from bench import config
from bench.config import RunOptions, quick_options
from bench.report import to_markdown
from bench.runner import run


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> RunOptions:
    """Command-line options; ``--quick`` overrides scales and durations."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1k events only, 2 s per scenario")
    parser.add_argument("--scales", default="1k,10k,100k", help="comma-separated: 1k,10k,100k")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="connections")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--fanout", default="100,1000", help="WebSocket audience sizes")
    parser.add_argument("--fanout-rounds", type=int, default=3)
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="py-spy the three slowest operations at the last scale (if py-spy is found)",
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument("--py-spy", default=None, help="path to the py-spy executable")
    parser.add_argument("--workdir", type=Path, default=None, help="keep databases here")
    parser.add_argument(
        "--output", type=Path, default=None, help="default bench/results/latest[-postgres].md"
    )
    parser.add_argument(
        "--backend",
        choices=config.BACKENDS,
        default="sqlite",
        help="sqlite (default, one worker) or postgres (a fresh database, workers share Redis)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"uvicorn workers per server (default 1, {config.POSTGRES_WORKERS} for postgres)",
    )
    parser.add_argument("--postgres-url", default=config.POSTGRES_URL, help="server URL, no db")
    parser.add_argument(
        "--redis-url",
        default=config.REDIS_URL,
        help="flushed; used with postgres or several workers",
    )
    args = parser.parse_args(argv)
    postgres = args.backend == "postgres"
    workers = args.workers or (config.POSTGRES_WORKERS if postgres else 1)
    if workers < 1:
        parser.error("--workers must be at least 1")
    scales = _csv(args.scales)
    unknown = [s for s in scales if s not in config.SCALES]
    if unknown or not scales:
        parser.error(f"unknown scale(s) {unknown}; choose from {', '.join(config.SCALES)}")
    options = RunOptions(
        scales=scales,
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        generator=args.generator,
        fanout_sizes=tuple(int(s) for s in _csv(args.fanout)),
        fanout_rounds=args.fanout_rounds,
        profile=args.profile,
        profile_seconds=args.profile_seconds,
        py_spy=args.py_spy,
        workdir=args.workdir,
        output=args.output
        or config.RESULTS_DIR / ("latest-postgres.md" if postgres else "latest.md"),
        backend=args.backend,
        workers=workers,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url if postgres or workers > 1 else None,
    )
    return quick_options(options) if args.quick else options


def main(argv: list[str] | None = None) -> int:
    """Run, print and save."""
    options = parse_args(argv)
    report = run(options)
    markdown = to_markdown(report)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(markdown)
    options.output.with_suffix(".json").write_text(
        json.dumps({"header": report.header, "rows": [asdict(r) for r in report.rows]}, indent=2)
    )
    print(markdown)
    print(f"saved to {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
