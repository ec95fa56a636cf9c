"""Web Push: VAPID keys, device subscriptions, and the channel that sends notices to them.

    subscribe / unsubscribe / devices / resubscribe     the settings page and service worker
    WebPushChannel (registered in notify.CHANNELS)       fan-out, quiet hours, retries
    release_held()                                       the 07:00 task for held pushes

Sending goes through pywebpush (imported inside `_send_one`: it costs ~300 ms of cold
start). Each (notice, device) pair is one job in a bounded thread pool; 404/410 delete
the subscription, 429/5xx/timeouts are retried with backoff, and no device's failure
stops the others.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time as _time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import Flask, current_app
from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError

from backend.config import Config
from backend.errors import AppError, Forbidden, NotFound, ValidationFailed
from backend.models.base import transaction, utcnow
from backend.models.notices import Delivery, Notice
from backend.models.push import HeldPush, PushSubscription
from backend.rules import push as rules
from backend.services import notify, ratelimit
from backend.services import push_destinations as destinations

__all__ = ["install", "public_key", "subscribe", "unsubscribe", "devices", "resubscribe",
           "WebPushChannel", "CHANNEL", "release_held", "device_id_for", "Outcome",
           "generate_vapid_keys", "MAX_DEVICES", "device_for_token", "limit_device_calls",
           "forget_on_logout", "mark_read_from_device", "DEVICE_COOKIE"]

log = logging.getLogger(__name__)

MAX_DEVICES = 10  # per person; the oldest is dropped beyond that
# Set by the subscribe response: which device this browser is, so logging out (with or
# without JavaScript) can stop its pushes.
DEVICE_COOKIE = "cc_push_device"


# ---------------------------------------------------------------- VAPID keys

_keys_lock = threading.Lock()
_keys: dict[str, object] = {}


def generate_vapid_keys() -> tuple[str, str]:
    """A new (private, public) pair as base64url: the raw scalar and the uncompressed point."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return _b64(private), _b64(public)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _private_key_text(config: Config) -> str:
    # On Lambda the key arrives in the environment from SSM (`backend.ssm`:
    # /countycare/<stage>/vapid-private-key → COUNTYCARE_VAPID_PRIVATE_KEY).
    if config.vapid_private_key:
        return config.vapid_private_key
    raise AppError("推送服务尚未配置", code="push_not_configured")


def _vapid(config: Config):
    """The signing key (py_vapid.Vapid02), built once per process and configured key."""
    source = config.vapid_private_key
    with _keys_lock:
        if _keys.get("source") != source:
            from cryptography.hazmat.primitives import serialization
            from py_vapid import Vapid02

            vapid = Vapid02.from_raw(_private_key_text(config).encode())
            public = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
            _keys.update(source=source, vapid=vapid, public=_b64(public))
        return _keys["vapid"]


def public_key(config: Config | None = None) -> str:
    """The applicationServerKey the page subscribes with (base64url, 65-byte point)."""
    config = config or current_app.config["COUNTYCARE"]
    if config.vapid_public_key:
        return config.vapid_public_key
    _vapid(config)
    return _keys["public"]


# ---------------------------------------------------------------- subscriptions

def device_id_for(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()[:32]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _device_label(user_agent: str) -> str:
    ua = user_agent or ""
    system = ("iPhone" if "iPhone" in ua else "iPad" if "iPad" in ua else
              "Android 手机" if "Android" in ua else "电脑" if ua else "未知设备")
    browser = ("微信" if "MicroMessenger" in ua else "Edge" if "Edg/" in ua else
               "Firefox" if "Firefox" in ua else "Chrome" if "Chrome" in ua else
               "Safari" if "Safari" in ua else "浏览器")
    return f"{system} · {browser}"


@dataclass(frozen=True)
class Subscribed:
    device_id: str
    token: str   # given to the service worker once; only its hash is stored
    label: str


def _validated(endpoint: str, p256dh: str, auth: str, config: Config) -> tuple[str, str, str]:
    try:
        rules.check_keys(p256dh, auth)
    except rules.InvalidSubscription as err:
        raise ValidationFailed(str(err), code=err.code) from None
    try:
        destinations.check_destination(endpoint, config)
    except rules.InvalidSubscription as err:
        raise AppError(str(err), code=err.code) from None  # 400: not a push service we send to
    return endpoint, p256dh, auth


def _owners(device_id: str) -> list[str]:
    return [k.recipient for k in PushSubscription.by_device.query(device_id)]


def subscribe(recipient: str, *, endpoint: str, p256dh: str, auth: str, user_agent: str = "",
              config: Config | None = None) -> Subscribed:
    """Add (or take over) this browser as one of the person's devices."""
    config = config or current_app.config["COUNTYCARE"]
    _validated(endpoint, p256dh, auth, config)
    token = secrets.token_urlsafe(32)
    sub = PushSubscription(recipient, device_id_for(endpoint), endpoint=endpoint,
                           p256dh=p256dh, auth=auth, token_hash=_token_hash(token),
                           label=_device_label(user_agent)[:40], created_at=utcnow())
    # The endpoint is a capability only this browser holds: whoever presents it owns it,
    # and the previous owner (someone else on a shared phone) stops getting its pushes.
    with transaction() as tx:
        for owner in _owners(sub.device_id):
            if owner != recipient:
                tx.delete(PushSubscription(owner, sub.device_id))
        tx.save(sub)
    mine = devices(recipient)
    if len(mine) > MAX_DEVICES:
        for old in sorted(mine, key=lambda d: d.created_at)[:-MAX_DEVICES]:
            _forget(old)
    return Subscribed(sub.device_id, token, sub.label)


def devices(recipient: str) -> list[PushSubscription]:
    return list(PushSubscription.query(recipient, consistent_read=True))


def unsubscribe(recipient: str, device_id: str) -> None:
    """Remove one of *your* devices; someone else's (or an unknown one) is not found."""
    if not device_id or len(device_id) > 64:
        raise NotFound("找不到该设备", code="device_not_found")
    try:
        PushSubscription(recipient, device_id).delete(
            condition=PushSubscription.device_id.exists())
    except DeleteError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound("找不到该设备", code="device_not_found") from None
        raise


def resubscribe(token: str, *, device_id: str, endpoint: str, p256dh: str, auth: str,
                config: Config | None = None) -> Subscribed:
    """The service worker's `pushsubscriptionchange`: swap the old subscription for the new.

    Authenticated by the device token (the session may have ended long ago).
    """
    config = config or current_app.config["COUNTYCARE"]
    _validated(endpoint, p256dh, auth, config)
    old = device_for_token(device_id, token)
    new_token = secrets.token_urlsafe(32)
    new = PushSubscription(old.recipient, device_id_for(endpoint), endpoint=endpoint,
                           p256dh=p256dh, auth=auth, token_hash=_token_hash(new_token),
                           label=old.label, created_at=utcnow())
    try:
        with transaction() as tx:
            if new.device_id != old.device_id:
                tx.delete(old, condition=PushSubscription.token_hash == old.token_hash)
            tx.save(new)
    except TransactWriteError:
        raise AppError("设备信息已更改，请重试", code="conflict") from None
    return Subscribed(new.device_id, new_token, new.label)


def device_for_token(device_id: str, token: str) -> PushSubscription:
    """The subscription a service worker's device token stands for (no session needed)."""
    found = None
    if device_id and len(device_id) <= 64:
        for owner in _owners(device_id):
            try:
                found = PushSubscription.get(owner, device_id, consistent_read=True)
            except DoesNotExist:
                continue
    if found is None or not token or not hmac.compare_digest(found.token_hash, _token_hash(token)):
        raise Forbidden("设备凭证无效，请在设置中重新开启通知", code="invalid_device_token")
    return found


# The service worker's token-authenticated calls: per device and per address, per hour.
DEVICE_CALLS_PER_HOUR = 30
ADDRESS_CALLS_PER_HOUR = 120


def limit_device_calls(action: str, device_id: str, address: str,
                       config: Config | None = None) -> None:
    """Raise RateLimited (429 + Retry-After) before any token is checked."""
    config = config or current_app.config["COUNTYCARE"]
    message = "操作过于频繁，请稍后再试"
    ratelimit.hit(f"{action}-dev", ratelimit.subject_key(config.secret_key, device_id[:64]),
                  DEVICE_CALLS_PER_HOUR, 3600, message=message)
    ratelimit.hit(f"{action}-addr", ratelimit.subject_key(config.secret_key, address),
                  ADDRESS_CALLS_PER_HOUR, 3600, message=message)


def forget_on_logout(recipient: str, device_ids: list[str]) -> int:
    """Stop pushing to the device someone is signing out of (only their own rows).

    Returns how many subscriptions were removed; unknown or someone else's ids do nothing.
    """
    removed = 0
    for device_id in dict.fromkeys(d for d in device_ids if d):
        try:
            unsubscribe(recipient, device_id)
            removed += 1
        except NotFound:
            continue
    return removed


def mark_read_from_device(device_id: str, token: str, notice_id: str) -> int:
    """A notification was clicked: mark the notice read in its owner's inbox; unread count."""
    owner = device_for_token(device_id, token).recipient
    if not notify.mark_read(owner, notice_id):
        raise NotFound("找不到这条消息", code="notice_not_found")
    return notify.unread_count(owner)


def _forget(device: PushSubscription) -> None:
    """Delete a subscription the push service says is gone (unless it was replaced)."""
    try:
        PushSubscription(device.recipient, device.device_id).delete(
            condition=PushSubscription.endpoint == device.endpoint)
    except DeleteError:
        pass


# ---------------------------------------------------------------- sending

@dataclass(frozen=True)
class Outcome:
    device_id: str
    status: str            # delivered, gone, failed, refused (not a push service's address)
    attempts: int
    http_status: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class _Settings:
    subject: str
    timeout: float
    attempts: int
    backoff: float
    concurrency: int
    allowed_hosts: tuple[str, ...] = ()
    allow_loopback: bool = False


def _send_one(device: PushSubscription, payload: bytes, delivery: rules.Delivery, vapid,
              settings: _Settings, sleep: Callable[[float], None] = _time.sleep) -> Outcome:
    """One push to one device, with retries; never raises."""
    import requests
    from pywebpush import WebPushException, webpush

    info = {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
    try:  # stored before the allow-list, or the list has changed since: never sent
        rules.check_endpoint(device.endpoint, allowed_hosts=settings.allowed_hosts,
                             allow_loopback=settings.allow_loopback)
    except rules.InvalidSubscription as err:
        return Outcome(device.device_id, "refused", 0, None, err.code)
    attempt = 0
    while True:
        attempt += 1
        retry_after = None
        try:
            resp = webpush(info, data=payload, vapid_private_key=vapid,
                           vapid_claims={"sub": settings.subject},  # fresh: pywebpush mutates it
                           ttl=delivery.ttl_seconds, headers={"Urgency": delivery.urgency},
                           timeout=(min(3.0, settings.timeout), settings.timeout),
                           requests_session=destinations.session(settings.allow_loopback))
            return Outcome(device.device_id, "delivered", attempt, resp.status_code)
        except destinations.RefusedDestination:
            log.warning("push to device %s refused: non-public address", device.device_id)
            return Outcome(device.device_id, "refused", attempt, None, "push_endpoint_private")
        except WebPushException as err:
            status = err.status_code
            if status in rules.GONE:
                return Outcome(device.device_id, "gone", attempt, status, f"http {status}")
            if status not in rules.RETRYABLE:
                return Outcome(device.device_id, "failed", attempt, status, f"http {status}")
            retry_after = err.retry_after
            detail, http_status = f"http {status}", status
        except requests.Timeout:
            detail, http_status = "timeout", None
        except requests.RequestException as err:
            detail, http_status = f"network {type(err).__name__}", None
        except Exception as err:  # a bad key or an encryption error: not worth retrying
            log.warning("push to device %s failed: %r", device.device_id, err)
            return Outcome(device.device_id, "failed", attempt, None, type(err).__name__)
        if attempt >= settings.attempts:
            return Outcome(device.device_id, "failed", attempt, http_status, detail)
        sleep(rules.backoff_seconds(attempt, settings.backoff, retry_after))


class WebPushChannel:
    """The Web Push `Channel`: every device of each recipient, outside quiet hours."""

    name = "webpush"

    def __init__(self) -> None:
        self.clock: Callable[[], datetime] = utcnow   # tests pin the time of day
        self.sleep: Callable[[float], None] = _time.sleep

    def deliver(self, notice: Notice) -> Delivery | None:
        return self.deliver_many([notice]).get(notice.notice_id)

    def deliver_many(self, notices: list[Notice], *, hold: bool = True) -> dict[str, Delivery]:
        config: Config = current_app.config["COUNTYCARE"]
        settings = _Settings(config.vapid_subject, config.push_timeout_seconds,
                             config.push_max_attempts, config.push_backoff_seconds,
                             max(1, config.push_concurrency), tuple(config.push_allowed_hosts),
                             config.push_allow_loopback)
        recipients = sorted({n.recipient for n in notices})
        # DynamoDB reads: at most 8 at once (botocore's connection pool holds 10).
        with ThreadPoolExecutor(max_workers=min(8, len(recipients) or 1)) as pool:
            found = dict(zip(recipients, pool.map(devices, recipients)))
        reachable = [n for n in notices if found.get(n.recipient)]
        if not reachable:
            return {}
        now = self.clock()
        out: dict[str, Delivery] = {}
        if hold and rules.in_quiet_hours(now, config.timezone):
            held = [n for n in reachable if n.urgent != "1"]
            out.update(_hold(held, now, config.timezone))
            reachable = [n for n in reachable if n.urgent == "1"]
        if not reachable:
            return out
        vapid = _vapid(config)
        jobs = []
        for notice in reachable:
            try:
                payload = rules.build_payload(notice_id=notice.notice_id, kind=notice.kind,
                                              title=notice.title, body=notice.body,
                                              url=notice.url)
            except rules.PayloadTooLarge:
                out[notice.notice_id] = Delivery(channel=self.name, status="failed", at=utcnow(),
                                                 detail="payload_too_large")
                continue
            delivery = rules.delivery_for(notice.kind, notice.urgent == "1")
            jobs.extend((notice, device, payload, delivery) for device in found[notice.recipient])

        def run(job) -> tuple[Notice, PushSubscription, Outcome, datetime]:
            notice, device, payload, delivery = job
            outcome = _send_one(device, payload, delivery, vapid, settings, self.sleep)
            if outcome.status in ("gone", "refused"):
                _forget(device)  # a refused endpoint would be refused again every time
            return notice, device, outcome, utcnow()

        results: dict[str, list[tuple[Outcome, datetime]]] = defaultdict(list)
        with ThreadPoolExecutor(max_workers=min(settings.concurrency, len(jobs) or 1)) as pool:
            for notice, _device, outcome, at in pool.map(run, jobs):
                results[notice.notice_id].append((outcome, at))
        for notice_id, outcomes in results.items():
            out[notice_id] = _summary(self.name, outcomes)
        return out


def _summary(channel: str, outcomes: list[tuple[Outcome, datetime]]) -> Delivery:
    ok = [at for o, at in outcomes if o.status == "delivered"]
    counts = f"{len(ok)}/{len(outcomes)} devices"
    problems = sorted({o.detail for o, _ in outcomes if o.status != "delivered" and o.detail})
    detail = counts + (f"; {', '.join(problems)}" if problems else "")
    if ok:
        return Delivery(channel=channel, status="delivered", at=min(ok), detail=detail[:200])
    return Delivery(channel=channel, status="failed", at=max(at for _, at in outcomes),
                    detail=detail[:200])


def _hold(notices: list[Notice], now: datetime, tz: str) -> dict[str, Delivery]:
    release = rules.quiet_hours_end(now, tz)
    day = release.date().isoformat()
    with HeldPush.batch_write() as batch:
        for n in notices:
            batch.save(HeldPush(day, f"{n.recipient}#{n.notice_id}", recipient=n.recipient,
                                notice_id=n.notice_id, held_at=now,
                                expires_at=now + timedelta(days=7)))
    return {n.notice_id: Delivery(channel="webpush", status="held", at=now,
                                  detail=f"quiet hours until {release:%H:%M}")
            for n in notices}


def release_held(now: datetime | None = None) -> dict:
    """Send the pushes held over quiet hours (the 07:00 task); idempotent.

    Each held item is claimed by a conditional delete before it is sent, so a re-run
    (or two overlapping runs) never pushes a notice twice; the inbox has it anyway.
    """
    config: Config = current_app.config["COUNTYCARE"]
    now = now or CHANNEL.clock()
    if rules.in_quiet_hours(now, config.timezone):
        return {"released": 0, "reason": "still quiet hours"}
    from zoneinfo import ZoneInfo
    today = now.astimezone(ZoneInfo(config.timezone)).date()
    claimed: list[HeldPush] = []
    for day in (today - timedelta(days=1), today):  # yesterday's too, should a run be missed
        for held in HeldPush.query(day.isoformat()):
            try:
                held.delete(condition=HeldPush.held_key.exists())
                claimed.append(held)
            except DeleteError:
                continue
    if not claimed:
        return {"released": 0}
    keys = [(h.recipient, h.notice_id) for h in claimed]
    notices = list(Notice.batch_get(keys))
    deliveries = CHANNEL.deliver_many(notices, hold=False)
    for notice in notices:
        if notice.notice_id in deliveries:
            notify.record_deliveries(notice, [deliveries[notice.notice_id]])
    delivered = sum(1 for d in deliveries.values() if d.status == "delivered")
    return {"released": len(notices), "delivered": delivered}


CHANNEL = WebPushChannel()


def install(app: Flask) -> None:
    """Register the Web Push channel once per process (create_app may run many times)."""
    if CHANNEL not in notify.CHANNELS:
        notify.CHANNELS.append(CHANNEL)
