"""Web Push rules: payload size, TTL and urgency per kind of notice, quiet hours (pure)."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

__all__ = ["MAX_PAYLOAD_BYTES", "Delivery", "DELIVERY", "delivery_for", "build_payload",
           "PayloadTooLarge", "in_quiet_hours", "quiet_hours_end", "check_endpoint",
           "check_keys", "InvalidSubscription", "RETRYABLE", "GONE", "backoff_seconds",
           "host_allowed", "address_allowed", "LOOPBACK_HOSTS"]

# A push message body is at most 4096 bytes once encrypted (RFC 8291); aes128gcm adds a
# 86-byte header (salt, record size, key id), one padding delimiter and a 16-byte tag.
MAX_ENCRYPTED_BYTES = 4096
ENCRYPTION_OVERHEAD = 86 + 1 + 16
MAX_PAYLOAD_BYTES = MAX_ENCRYPTED_BYTES - ENCRYPTION_OVERHEAD  # 3,993 bytes of JSON

QUIET_START = time(22, 0)
QUIET_END = time(7, 0)

# Push-service replies: gone for good (delete the subscription) and worth retrying.
GONE = frozenset({404, 410})
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    """How long a push service keeps a message for an offline phone, and how urgently."""

    ttl_seconds: int
    urgency: str  # RFC 8030: very-low, low, normal, high


# A freed slot is only worth something for a short while; a due vaccine for days.
DELIVERY: dict[str, Delivery] = {
    "slot_offer": Delivery(ttl_seconds=30 * 60, urgency="high"),
    "appointment_reminder": Delivery(ttl_seconds=12 * 3600, urgency="normal"),
    "vaccine_due": Delivery(ttl_seconds=3 * 86400, urgency="low"),
    "followup_due": Delivery(ttl_seconds=3 * 86400, urgency="low"),
    "contract_renewal": Delivery(ttl_seconds=3 * 86400, urgency="low"),   # 30 days ahead
}
DEFAULT_DELIVERY = Delivery(ttl_seconds=86400, urgency="normal")


def delivery_for(kind: str, urgent: bool) -> Delivery:
    base = DELIVERY.get(kind, DEFAULT_DELIVERY)
    return Delivery(ttl_seconds=base.ttl_seconds, urgency="high") if urgent else base


class PayloadTooLarge(ValueError):
    """Even the shortened notice does not fit in one push message."""


def _encode(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_payload(*, notice_id: str, kind: str, title: str, body: str, url: str,
                  limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The JSON the service worker shows; the body is shortened (with …) to fit `limit`.

    The full text stays in the inbox, so shortening loses nothing. Raises
    `PayloadTooLarge` when even an empty body does not fit (e.g. a huge url).
    """
    message = {"id": notice_id, "kind": kind, "title": title, "body": body, "url": url}
    data = _encode(message)
    if len(data) <= limit:
        return data
    message["body"] = ""
    if len(_encode(message)) > limit:
        raise PayloadTooLarge(f"push payload over {limit} bytes without a body")
    lo, hi = 0, len(body)  # longest prefix that fits, by bisection on characters
    while lo < hi:
        mid = (lo + hi + 1) // 2
        message["body"] = body[:mid] + "…"
        if len(_encode(message)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    message["body"] = body[:lo] + "…"
    return _encode(message)


def in_quiet_hours(moment: datetime, tz: str = "Asia/Shanghai") -> bool:
    """22:00 to 07:00 local time: no push unless urgent."""
    local = moment.astimezone(ZoneInfo(tz)).time()
    return local >= QUIET_START or local < QUIET_END


def quiet_hours_end(moment: datetime, tz: str = "Asia/Shanghai") -> datetime:
    """The 07:00 (local) at which a notice held at `moment` goes out."""
    local = moment.astimezone(ZoneInfo(tz))
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=ZoneInfo(tz))


def backoff_seconds(attempt: int, base: float, retry_after: str | None = None,
                    cap: float = 30.0) -> float:
    """Wait before retry `attempt` (1-based): Retry-After in seconds if given, else 2^n."""
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after.strip()), cap)
    return min(base * (2 ** (attempt - 1)), cap)


class InvalidSubscription(ValueError):
    """A browser's PushSubscription JSON we cannot use; the message is Chinese."""

    def __init__(self, message: str, code: str = "invalid_subscription"):
        super().__init__(message)
        self.code = code


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_allowed(host: str, allowed_hosts) -> bool:
    """`host` is on the list: exactly, or under a `*.suffix` entry (a subdomain, not the
    suffix itself). Case-insensitive; a trailing dot is ignored."""
    host = host.lower().rstrip(".")
    for entry in allowed_hosts:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def address_allowed(address: str, *, allow_loopback: bool) -> bool:
    """A push may go only to a public address: never private, loopback, link-local
    (169.254.169.254 is the cloud's metadata service), shared, multicast or reserved.
    `allow_loopback` lets a test talk to its own push service on 127.0.0.1."""
    import ipaddress
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def check_endpoint(endpoint: str, *, allowed_hosts, allow_loopback: bool = False) -> str:
    """A push endpoint is an HTTPS URL on a browser vendor's push service (`allowed_hosts`).

    With `allow_loopback` (tests only) a listed loopback host may also be plain http on any
    port; otherwise the port is 443. The addresses the host resolves to are checked by the
    caller (`services.push`), at subscribe and again at every connection."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1024:
        raise InvalidSubscription("推送地址无效")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise InvalidSubscription("推送地址无效") from None
    if not host or parts.username or parts.password or any(c.isspace() for c in endpoint):
        raise InvalidSubscription("推送地址无效")
    loopback = allow_loopback and host.lower() in LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise InvalidSubscription("推送地址必须使用 HTTPS", code="push_endpoint_not_https")
    if not host_allowed(host, allowed_hosts):
        raise InvalidSubscription("不支持该推送服务地址", code="push_endpoint_not_allowed")
    if port not in (None, 443) and not loopback:
        raise InvalidSubscription("不支持该推送服务地址", code="push_endpoint_not_allowed")
    return endpoint


def _b64url(value: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("empty")
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in value):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))


def check_keys(p256dh: str, auth: str) -> tuple[bytes, bytes]:
    """The browser's P-256 public key (65 bytes, uncompressed) and 16-byte auth secret."""
    try:
        public = _b64url(p256dh)
    except ValueError:
        raise InvalidSubscription("推送密钥 p256dh 无效") from None
    if len(public) != 65 or public[0] != 4:
        raise InvalidSubscription("推送密钥 p256dh 无效")
    from cryptography.hazmat.primitives.asymmetric import ec
    try:  # a point that is not on the curve would only fail later, at encryption
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        raise InvalidSubscription("推送密钥 p256dh 无效") from None
    try:
        secret = _b64url(auth)
    except ValueError:
        raise InvalidSubscription("推送密钥 auth 无效") from None
    if len(secret) != 16:
        raise InvalidSubscription("推送密钥 auth 无效")
    return public, secret
