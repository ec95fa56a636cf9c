"""Size of the Lambda bundle (`make package`): zipped and unzipped.

    python -m bench.bundle [--quick] [--rebuild]

Builds the prod bundle with `infra.package` (slim `.venv-lambda`, `zappa package prod`,
offline) unless `build/countycare-lambda.zip` is newer than every project source file;
`--quick` reuses any existing bundle. Targets: < 30 MB zipped (Lambda's own limits are
50 MB zipped upload, 250 MB unzipped).
"""
from __future__ import annotations

import argparse
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

from infra import package

SOURCES = ("backend", "frontend", "infra", "pyproject.toml", "requirements.lock",
           "zappa_settings.json")


def stale(bundle: Path) -> bool:
    if not bundle.exists():
        return True
    built = bundle.stat().st_mtime
    for name in SOURCES:
        path = package.ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                                   and "__pycache__" not in p.parts]
        if any(p.stat().st_mtime > built for p in files):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reuse an existing bundle")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    bundle = package.OUTPUT
    if args.rebuild or (stale(bundle) and not (args.quick and bundle.exists())):
        started = time.perf_counter()
        package.build("prod", bundle)
        print(f"build_s: {time.perf_counter() - started:.1f}")
    zip_mb, unzipped_mb = package.bundle_sizes(bundle)
    print(f"zip_mb: {zip_mb:.1f}")
    print(f"unzipped_mb: {unzipped_mb:.1f}")
    sizes = Counter()
    with zipfile.ZipFile(bundle) as z:
        for info in z.infolist():
            sizes[info.filename.split("/")[0]] += info.file_size
    print("largest_unzipped_mb: " + ", ".join(f"{n}={s / 1e6:.1f}"
                                             for n, s in sizes.most_common(5)))
    print("target_zip_mb: 30")
    return 0


if __name__ == "__main__":
    sys.exit(main())
