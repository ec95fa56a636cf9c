"""First-load transfer size of the home page: HTML + the CSS and JS it references, gzipped.

    python -m bench.first_load [--quick]

Fetches `/` as a phone's first visit (anonymous, nothing cached), then every stylesheet and script the HTML references and every ES module those scripts import
(recursively), through the Flask test client against a local DynamoDB. Sizes are of each
body gzip-compressed (level 6, as a CDN or `Content-Encoding: gzip` would send it).
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
from urllib.parse import urljoin, urlsplit

STYLESHEET = re.compile(r'<link[^>]+rel="stylesheet"[^>]*href="([^"]+)"')
SCRIPT = re.compile(r'<script[^>]+src="([^"]+)"')
JS_IMPORT = re.compile(r'''(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]''')


def gz_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6, mtime=0))


def first_load(client, path: str = "/") -> dict[str, bytes]:
    """Every URL a first visit to `path` downloads (HTML, CSS, JS modules) and its body."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    html = page.get_data()
    fetched = {path: html}
    queue = [urljoin(path, u) for u in STYLESHEET.findall(html.decode()) + SCRIPT.findall(html.decode())]
    while queue:
        url = queue.pop(0)
        if url in fetched or urlsplit(url).netloc:
            continue
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        fetched[url] = r.get_data()
        if urlsplit(url).path.endswith(".js"):
            for groups in JS_IMPORT.findall(r.get_data(as_text=True)):
                target = next(g for g in groups if g)
                if target.startswith((".", "/")):
                    queue.append(urljoin(url, target))
    return fetched


def report(label: str, fetched: dict[str, bytes]) -> None:
    raw = sum(len(b) for b in fetched.values())
    gz = sum(gz_size(b) for b in fetched.values())
    print(f"{label}files: {len(fetched)}")
    print(f"{label}first_load_kb_raw: {raw / 1024:.1f}")
    print(f"{label}first_load_kb_gz: {gz / 1024:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(already quick)")
    parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    from backend import create_app
    from backend.config import Config
    from infra import localdb
    from infra.tables import create_all

    port, server = localdb.start_in_thread()
    try:
        app = create_app(Config.local(dynamodb_endpoint=f"http://127.0.0.1:{port}",
                                      table_prefix="bench-first-load", secure_cookies=False,
                                      testing=True, code_sender="console"))
        create_all()
        client = app.test_client()
        fetched = first_load(client, "/")
        report("", fetched)
        for url, body in fetched.items():
            print(f"file_kb_gz {url}: {gz_size(body) / 1024:.1f}")
        print("target_first_load_kb_gz: 60")
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
