"""A local push service on 127.0.0.1 for tests and the benchmark.

It plays both ends a real push service joins: it checks each request's VAPID JWT
(ES256 signature against the application server's public key, aud, exp, sub) and,
holding each fake browser's private key and auth secret, decrypts the aes128gcm body.
Each device can be scripted to answer 404/410/429/5xx or to stall (timeouts).
"""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["PushReceiver", "FakeDevice", "Reply", "Received"]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Reply:
    status: int = 201
    headers: dict = field(default_factory=dict)
    delay: float = 0.0   # seconds to stall before answering (a timing-out endpoint)


@dataclass
class FakeDevice:
    """One browser's push subscription: a P-256 key pair and a 16-byte auth secret."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription_json(self) -> dict:
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass
class Received:
    token: str
    status: int
    headers: dict
    claims: dict | None
    plaintext: bytes | None
    body_size: int


class PushReceiver:
    def __init__(self, vapid_public_key: str, subject: str, *, decrypt: bool = True):
        self.vapid_public_key = vapid_public_key
        self.subject = subject
        self.decrypt = decrypt
        self.devices: dict[str, FakeDevice] = {}
        self.scripts: dict[str, list[Reply]] = {}
        self.received: list[Received] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._counter = 0

    # -- life cycle
    def start(self) -> "PushReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                reply = receiver._handle(self.path, dict(self.headers.items()), body)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up waiting

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- fake browsers
    def device(self, *replies: Reply) -> FakeDevice:
        """A new subscription; `replies` are answered in order, then 201 Created."""
        with self._lock:
            self._counter += 1
            token = f"d{self._counter:06d}"
        dev = FakeDevice(token, f"{self.origin}/push/{token}",
                         ec.generate_private_key(ec.SECP256R1()), _random16())
        self.devices[token] = dev
        self.scripts[token] = list(replies)
        return dev

    def for_device(self, dev: FakeDevice) -> list[Received]:
        return [r for r in self.received if r.token == dev.token]

    def texts(self, dev: FakeDevice) -> list[str]:
        return [r.plaintext.decode() for r in self.for_device(dev)
                if r.status < 300 and r.plaintext is not None]

    # -- what a push service does
    def _handle(self, path: str, headers: dict, body: bytes) -> Reply:
        token = path.rsplit("/", 1)[-1]
        dev = self.devices.get(token)
        if dev is None:
            return Reply(404)
        with self._lock:
            script = self.scripts[token]
            reply = script.pop(0) if script else Reply(201)
        h = {k.lower(): v for k, v in headers.items()}
        claims = self._check_vapid(h.get("authorization", ""))
        for name in ("ttl", "urgency"):
            if name not in h:
                self._error(f"{token}: missing {name} header")
        if h.get("content-encoding") != "aes128gcm":
            self._error(f"{token}: content-encoding {h.get('content-encoding')!r}")
        if len(body) > 4096:
            self._error(f"{token}: body of {len(body)} bytes is over 4096")
        plaintext = None
        if self.decrypt and reply.status < 300:
            try:
                import http_ece
                plaintext = http_ece.decrypt(body, private_key=dev.private_key,
                                             auth_secret=dev.auth_secret, version="aes128gcm")
            except Exception as err:  # noqa: BLE001 - recorded for the test to see
                self._error(f"{token}: cannot decrypt: {err!r}")
        with self._lock:
            self.received.append(Received(token, reply.status, h, claims, plaintext, len(body)))
        return reply

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def _check_vapid(self, authorization: str) -> dict | None:
        """RFC 8292: `vapid t=<JWT>, k=<public key>`; ES256 over header.claims."""
        try:
            scheme, params = authorization.split(" ", 1)
            assert scheme.lower() == "vapid", scheme
            parts = dict(p.strip().split("=", 1) for p in params.split(","))
            jwt, key = parts["t"], parts["k"]
            if key != self.vapid_public_key:
                raise ValueError("k is not the application server's key")
            head_b64, claims_b64, sig_b64 = jwt.split(".")
            header = json.loads(unb64url(head_b64))
            if header.get("alg") != "ES256":
                raise ValueError(f"alg {header.get('alg')}")
            sig = unb64url(sig_b64)
            if len(sig) != 64:
                raise ValueError("signature is not 64 bytes (r||s)")
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
            public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(unb64url(claims_b64))
            now = time.time()
            if claims.get("aud") != self.origin:
                raise ValueError(f"aud {claims.get('aud')!r} != {self.origin!r}")
            if not now < int(claims.get("exp", 0)) <= now + 24 * 3600:
                raise ValueError(f"exp {claims.get('exp')} not within 24 h")
            if claims.get("sub") != self.subject:
                raise ValueError(f"sub {claims.get('sub')!r}")
            return claims
        except InvalidSignature:
            self._error("VAPID signature does not verify")
        except Exception as err:  # noqa: BLE001
            self._error(f"VAPID: {err!r}")
        return None


def _random16() -> bytes:
    import os
    return os.urandom(16)
