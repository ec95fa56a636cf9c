"""Build the Lambda bundle offline: a slim deploy virtualenv, then `zappa package`.

    python -m infra.package [--stage prod] [--output build/countycare-lambda.zip]

`zappa package` bundles the *active* virtualenv, so it runs with `.venv-lambda` active:
only the runtime dependencies of pyproject.toml and Zappa, pinned by requirements.lock
(the development virtualenv would bundle moto, playwright, cfn-lint...). Zappa's own
command-line dependencies and boto3/botocore (part of the Lambda runtime) are left out of
the zip by the `exclude` list of zappa_settings.json. Prints `zip_mb:` and `unzipped_mb:`.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

__all__ = ["build", "bundle_sizes", "DEPLOY_VENV", "OUTPUT"]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_VENV = ROOT / ".venv-lambda"
OUTPUT = ROOT / "build" / "countycare-lambda.zip"


def runtime_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["deploy"])


def _stamp() -> str:
    # Only what decides the venv's contents: the pins and the interpreter.
    text = "\n".join(runtime_requirements()) + (ROOT / "requirements.lock").read_text()
    return hashlib.sha256((text + sys.version).encode()).hexdigest()[:16]


def ensure_deploy_venv(venv: Path = DEPLOY_VENV) -> Path:
    """Create (or reuse, if pyproject/lock are unchanged) the slim deploy virtualenv."""
    stamp = venv / ".countycare-stamp"
    python = venv / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == _stamp():
        return venv
    # Same interpreter as the project: Zappa packages for the local Python (3.11).
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-c",
                    str(ROOT / "requirements.lock"), *runtime_requirements()], check=True)
    stamp.write_text(_stamp())
    return venv


def build(stage: str = "prod", output: Path = OUTPUT, venv: Path = DEPLOY_VENV) -> Path:
    """`zappa package STAGE -o OUTPUT` with the deploy virtualenv active."""
    ensure_deploy_venv(venv)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONHOME", "PYTHONPATH"}}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    # Zappa builds its boto3 clients on start; no call leaves the machine for `package`.
    env.setdefault("AWS_ACCESS_KEY_ID", "package-only")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "package-only")
    subprocess.run([str(venv / "bin" / "zappa"), "package", stage, "-o",
                    os.path.relpath(output, ROOT), "--disable_progress"],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    add_bytecode(output)
    return output


def add_bytecode(bundle: Path) -> None:
    """Compile every module into the zip (unchecked-hash .pyc, CPython 3.11 = the runtime).

    Lambda's /var/task is read-only, so without them every cold start compiles every
    module again (measured: 1.5-3 s from the unzipped bundle). Unchecked-hash .pyc files are
    used whatever modification times the unzip gives the sources.
    """
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(bundle) as z:
            modes = {i.filename: i.external_attr for i in z.infolist()}
            z.extractall(tmp)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0",
                        "--invalidation-mode", "unchecked-hash", tmp], check=True)
        rebuilt = bundle.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    name = path.relative_to(tmp).as_posix()
                    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                    info.external_attr = modes.get(name, 0o644 << 16)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, path.read_bytes())
        os.replace(rebuilt, bundle)


def bundle_sizes(path: Path) -> tuple[float, float]:
    """(zipped MB, unzipped MB) of a bundle."""
    with zipfile.ZipFile(path) as bundle:
        unzipped = sum(info.file_size for info in bundle.infolist())
    return path.stat().st_size / 1e6, unzipped / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    path = build(args.stage, args.output.resolve())
    zip_mb, unzipped_mb = bundle_sizes(path)
    print(f"bundle: {os.path.relpath(path, ROOT)}")
    print(f"zip_mb: {zip_mb:.1f}")
    print(f"unzipped_mb: {unzipped_mb:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
