"""Where a Web Push may go: the vendors' push services on public addresses only (SSRF).

    check_destination(endpoint, config)   at subscribe: allow-list, then DNS, every address public
    session(allow_loopback)               at send: a requests.Session whose every connection
                                          checks the address it actually reached

The allow-list is `Config.push_allowed_hosts`; `Config.push_allow_loopback` lets the tests'
push service on 127.0.0.1 through (listed explicitly in their config), nothing else does.
"""
from __future__ import annotations

import threading

from backend.config import Config
from backend.rules import push as rules

__all__ = ["check_destination", "session", "RefusedDestination"]


def _resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the DNS seam: tests map names to addresses)."""
    import socket
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


class RefusedDestination(Exception):
    """A push connection reached (or would reach) an address pushes may not go to.

    Not an OSError, so neither urllib3 nor requests retries or wraps it."""


def check_destination(endpoint: str, config: Config) -> str:
    """The endpoint is on the allow-list and every address its host resolves to is public
    (loopback only with the tests' flag). Raises rules.InvalidSubscription with a code."""
    rules.check_endpoint(endpoint, allowed_hosts=config.push_allowed_hosts,
                         allow_loopback=config.push_allow_loopback)
    from urllib.parse import urlsplit
    parts = urlsplit(endpoint)
    try:
        addresses = _resolve(parts.hostname, parts.port or 443)
    except OSError:
        raise rules.InvalidSubscription("无法解析推送服务地址，请稍后重试",
                                        code="push_endpoint_unresolved") from None
    if not addresses or not all(rules.address_allowed(a, allow_loopback=config.push_allow_loopback)
                                for a in addresses):
        raise rules.InvalidSubscription("推送地址指向内部网络，已拒绝",
                                        code="push_endpoint_private")
    return endpoint


def _guarded_pools(allow_loopback: bool) -> dict:
    """urllib3 pools whose connections check the address actually connected to, so that a
    name re-pointed after subscribing (DNS rebinding) or a redirect cannot reach inside."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def guard(base):
        class Guarded(base):
            def _new_conn(self):
                sock = super()._new_conn()
                peer = sock.getpeername()[0]
                if not rules.address_allowed(peer, allow_loopback=allow_loopback):
                    sock.close()
                    raise RefusedDestination(f"push to a non-public address refused: {peer}")
                return sock
        return Guarded

    class Http(HTTPConnectionPool):
        ConnectionCls = guard(HTTPConnection)

    class Https(HTTPSConnectionPool):
        ConnectionCls = guard(HTTPSConnection)

    return {"http": Http, "https": Https}


_local = threading.local()


def session(allow_loopback: bool = False):
    # One HTTP connection pool per worker thread (requests.Session is not thread-safe),
    # whose connections refuse non-public addresses; no proxies from the environment.
    sessions = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    if allow_loopback not in sessions:
        import requests
        from requests.adapters import HTTPAdapter
        pools = _guarded_pools(allow_loopback)

        class GuardedAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = pools

        session = requests.Session()
        session.trust_env = False
        session.max_redirects = 0
        session.mount("https://", GuardedAdapter(pool_connections=4, pool_maxsize=4, max_retries=0))
        session.mount("http://", GuardedAdapter(pool_connections=4, pool_maxsize=4, max_retries=0))
        sessions[allow_loopback] = session
    return sessions[allow_loopback]


