"""`make run`: local DynamoDB (persistent), tables, the demo county, then the app.

    python -m infra.run --port 5000 --ddb-port 8765 --data .localdata/dynamodb.json

The database is a child process. SIGTERM (what `make` passes on when it is stopped) and
Ctrl-C end this process through its `finally`, which stops the database (it folds its
journal into the snapshot); should this process die without that (`kill -9`), the kernel
sends the child SIGTERM (Linux's parent-death signal), and its journal keeps every
acknowledged write in any case.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from infra import localdb


def local_vapid_keys(path: Path) -> tuple[str, str]:
    """This machine's VAPID key pair for Web Push, generated once into .localdata."""
    import json

    if path.exists():
        keys = json.loads(path.read_text())
        return keys["private_key"], keys["public_key"]
    from backend.services.push import generate_vapid_keys
    private, public = generate_vapid_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"private_key": private, "public_key": public}))
    path.chmod(0o600)
    return private, public


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux; elsewhere a no-op)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_sigterm(signum, _frame) -> None:
    # An exception, not a plain exit: `finally` runs and stops the database.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--ddb-port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=Path(".localdata/dynamodb.json"))
    parser.add_argument("--residents", type=int, default=3000)
    args = parser.parse_args(argv)

    args.data.parent.mkdir(parents=True, exist_ok=True)
    args.data.parent.chmod(0o700)  # this machine's data: its owner only (make made it 0755)
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "local")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    env["DYNAMODB_ENDPOINT"] = f"http://127.0.0.1:{args.ddb_port}"
    env.setdefault("COUNTYCARE_STAGE", "local")
    env.setdefault("COUNTYCARE_SECURE_COOKIES", "0")  # plain HTTP on this machine
    env.setdefault("COUNTYCARE_SMS_PROVIDER", "console")
    if not env.get("COUNTYCARE_VAPID_PRIVATE_KEY"):
        private, public = local_vapid_keys(args.data.parent / "vapid.json")
        env["COUNTYCARE_VAPID_PRIVATE_KEY"], env["COUNTYCARE_VAPID_PUBLIC_KEY"] = private, public
    os.environ.update(env)

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    db = subprocess.Popen([sys.executable, "-m", "infra.localdb", "--port", str(args.ddb_port),
                           "--data", str(args.data)], env=env, preexec_fn=_die_with_parent)
    try:
        localdb.wait_until_up(args.ddb_port, timeout=300)
        from infra import seed
        seed.main(["--residents", str(args.residents)])
        from backend import create_app
        app = create_app()
        print(f"\nCountyCare 县域基层健康服务: http://127.0.0.1:{args.port}/  (Ctrl-C 停止)\n", flush=True)
        app.run(host="127.0.0.1", port=args.port, threaded=True, use_reloader=False)
    finally:
        db.terminate()
        try:
            db.wait(timeout=20)
        except subprocess.TimeoutExpired:
            db.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
