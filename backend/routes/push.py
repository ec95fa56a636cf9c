"""Web Push devices: the public key, subscribe/unsubscribe, and the service worker's resubscribe."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from backend import api
from backend.security import client_address, current_user, require
from backend.services import notify, push

bp = Blueprint("push", __name__)


@bp.record_once
def _exempt(state):
    # The service worker has no page and maybe no session: the device token authenticates.
    state.app.config.setdefault("CSRF_EXEMPT", set()).update(
        {"push.resubscribe", "push.notice_clicked"})


class Keys(api.Schema):
    p256dh: str = Field(min_length=1, max_length=120)
    auth: str = Field(min_length=1, max_length=40)


class SubscriptionIn(api.Schema):
    """`PushSubscription.toJSON()` as the browser gives it."""

    endpoint: str = Field(min_length=10, max_length=1024)
    expirationTime: float | None = None
    keys: Keys


class ResubscribeIn(api.Schema):
    device_id: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=20, max_length=100)
    subscription: SubscriptionIn


class DeviceTokenIn(api.Schema):
    device_id: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=20, max_length=100)


class UnreadOut(api.Schema):
    unread: int


class PublicKeyOut(api.Schema):
    public_key: str


class SubscribedOut(api.Schema):
    device_id: str
    token: str
    label: str


class DeviceOut(api.Schema):
    device_id: str
    label: str
    created_at: str


class DevicesOut(api.Schema):
    devices: list[DeviceOut]


class OkOut(api.Schema):
    ok: bool


@bp.get("/api/push/public-key")
@api.describe(summary="推送公钥（VAPID，订阅时使用）", response=PublicKeyOut, tags=["通知"])
def public_key():
    resp = jsonify(public_key=push.public_key())
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.get("/api/push/subscriptions")
@require()
@api.describe(summary="我已开启通知的设备", response=DevicesOut, tags=["通知"])
def my_devices():
    recipient = notify.recipient_for(current_user())
    return jsonify(devices=[{"device_id": d.device_id, "label": d.label,
                             "created_at": d.created_at.isoformat()}
                            for d in push.devices(recipient)])


@bp.post("/api/push/subscriptions")
@require()
@api.body(SubscriptionIn, summary="在这台设备上开启通知", response=SubscribedOut, tags=["通知"])
def subscribe(data: SubscriptionIn):
    done = push.subscribe(notify.recipient_for(current_user()), endpoint=data.endpoint,
                          p256dh=data.keys.p256dh, auth=data.keys.auth,
                          user_agent=request.headers.get("User-Agent", ""))
    return _remember_device(jsonify(device_id=done.device_id, token=done.token, label=done.label),
                            done.device_id), 201


def _remember_device(resp, device_id: str):
    """This browser's device id, so that logging out stops its pushes (even without JS)."""
    cfg = current_app.config["COUNTYCARE"]
    resp.set_cookie(push.DEVICE_COOKIE, device_id, max_age=400 * 86400, httponly=True,
                    secure=cfg.secure_cookies, samesite="Lax", path="/")
    return resp


@bp.delete("/api/push/subscriptions/<device_id>")
@require()
@api.describe(summary="停止向某台设备推送", response=OkOut, tags=["通知"])
def unsubscribe(device_id: str):
    push.unsubscribe(notify.recipient_for(current_user()), device_id)
    return jsonify(ok=True)


@bp.post("/api/push/resubscribe")
@api.body(ResubscribeIn, summary="浏览器更换推送订阅后更新（由 Service Worker 调用）",
          response=SubscribedOut, tags=["通知"])
def resubscribe(data: ResubscribeIn):
    push.limit_device_calls("push-resub", data.device_id, client_address())
    sub = data.subscription
    done = push.resubscribe(data.token, device_id=data.device_id, endpoint=sub.endpoint,
                            p256dh=sub.keys.p256dh, auth=sub.keys.auth)
    return _remember_device(jsonify(device_id=done.device_id, token=done.token, label=done.label),
                            done.device_id)


@bp.post("/api/push/notices/<notice_id>/read")
@api.body(DeviceTokenIn, summary="点开通知后标记为已读（由 Service Worker 调用，凭设备凭证）",
          response=UnreadOut, tags=["通知"])
def notice_clicked(data: DeviceTokenIn, notice_id: str):
    push.limit_device_calls("push-read", data.device_id, client_address())
    return jsonify(unread=push.mark_read_from_device(data.device_id, data.token, notice_id))
