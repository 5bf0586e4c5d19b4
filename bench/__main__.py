"""`python -m bench`: run the benchmark on the load dataset (see bench/README.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Few runs and a small ingestion batch (smoke run).")
    parser.add_argument("--runs", type=int, help="Measured runs per case (default 30, quick 3).")
    parser.add_argument("--organization", default="load-00", help="Slug of the organization to measure.")
    parser.add_argument("--out", type=Path, help="Where to write results.json (default bench/results.json).")
    parser.add_argument("--explain", metavar="CASE", help="Print EXPLAIN ANALYZE of one RLS case on both roles.")
    parser.add_argument(
        "--only",
        action="append",
        choices=("rls", "api", "search", "chart", "ingestion", "fhir"),
        help="Run only this group of cases (repeatable); the request floor and query counts are left out.",
    )
    parser.add_argument(
        "--remittance",
        action="store_true",
        help="Run only the 835 import case (bench/remittance.py): time and memory, nothing written to results.",
    )
    parser.add_argument("--claims", type=int, default=5_000, help="Claims of the 835 import case (4 lines each).")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # The benchmark sends far more requests per minute than a partner may: lift the key's throttle.
    os.environ["API_KEY_RATE"] = "1000000/min"
    # Production runs with DEBUG off; with it on Django formats and keeps every SQL statement it sends, which
    # adds to the API path and to nothing else.
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    from . import runner

    setup_test_environment()  # the in-process test client's host
    if args.explain:
        from . import cases

        sys.stdout.write(cases.explain(cases.pick_subject(args.organization), args.explain))
        return 0
    if args.remittance:
        from . import remittance

        remittance.run(slug=args.organization, claims=args.claims, stream=sys.stdout)
        return 0
    runs = args.runs or (3 if args.quick else 30)
    runner.run(
        slug=args.organization,
        runs=runs,
        warmup=1 if args.quick else 3,
        batch=500 if args.quick else 10_000,
        out=args.out or runner.DEFAULT_OUT,
        stream=sys.stdout,
        only=tuple(args.only or ()),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
