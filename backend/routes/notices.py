"""The in-app inbox: every notice a person got, with an unread badge and mark-as-read."""
from __future__ import annotations

import re
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, url_for

from backend import api
from backend.errors import NotFound
from backend.forms import safe_next
from backend.models.base import utcnow
from backend.models.notices import Notice
from backend.rules import notices as rules
from backend.rules import texts as texts_rules
from backend.security import current_user, require
from backend.services import notify

bp = Blueprint("notices", __name__)

KIND_LABELS = texts_rules.NOTICE_LABELS   # one list of kinds and their Chinese labels
CHANNEL_LABELS = {"inbox": "站内消息", "webpush": "手机推送", "sms": "短信"}
STATUS_LABELS = {"delivered": "已送达", "failed": "未送达", "held": "夜间暂缓", "sent": "已发出",
                 "skipped": "未发送"}
# What became of a waitlist offer, shown instead of its old deadline.
OFFER_STATES = {"booked": ("已确认预约", "您已确认这个号源，预约成功。"),
                "expired": ("已过期", "这个号源未在时限内确认，已顺延给下一位。"),
                "declined": ("已放弃", "您已放弃这个号源。"),
                "left": ("已退出候补", "您已退出候补。"),
                "closed": ("已停诊", "当天停诊，候补已结束。")}


class NoticeOut(api.Schema):
    notice_id: str
    kind: str
    kind_label: str
    title: str
    body: str
    url: str
    urgent: bool
    state: str | None = None
    reached: str
    created_at: str
    created_local: str
    created_relative: str
    read: bool
    deliveries: list[dict]


class InboxOut(api.Schema):
    unread: int
    notices: list[NoticeOut]


class UnreadOut(api.Schema):
    unread: int


class MarkedOut(api.Schema):
    marked: int


def _safe_url(url: str) -> str:
    # Notices only ever point inside the app.
    return safe_next(url, "/notices")


def _reached(n: Notice) -> str:
    """The channel that reached the person, in their words."""
    ds = n.deliveries or []
    if any(d.channel == "sms" and d.status == "delivered" for d in ds):
        return "短信已送达"
    if any(d.channel == "webpush" and d.status == "delivered" for d in ds):
        return "手机推送已送达"
    if any(d.channel == "sms" and d.status == "sent" for d in ds):
        return "短信已发出"
    return "站内消息"


_OFFER_URL = re.compile(r"^/booking/offer\?list=([^&]{1,200})&entry=([A-Za-z0-9_-]{1,64})$")


def _offer_key(n: Notice) -> tuple[str, str] | None:
    # The list key holds '#' (unescaped in the stored url), so the url is read as text.
    m = _OFFER_URL.match(n.url or "") if n.kind == "slot_offer" else None
    return (unquote(m.group(1)), m.group(2)) if m else None


def _offer_entries(notices: list[Notice]) -> dict:
    """The waitlist entries behind offer notices (one BatchGet), keyed by (list, entry)."""
    from backend.models.booking import WaitlistEntry
    keys = {k for k in map(_offer_key, notices) if k}
    if not keys:
        return {}
    return {(e.list_key, e.entry_id): e for e in WaitlistEntry.batch_get(sorted(keys))}


def _offer_state(n: Notice, entries: dict) -> tuple[str, str] | None:
    if n.kind != "slot_offer" or not entries:
        return None
    entry = entries.get(_offer_key(n))
    if entry is None:
        return None
    if entry.status == "offered" and entry.offer_state == "offered":
        return None   # still open: the deadline in the text is true
    return OFFER_STATES.get(entry.status)


def _serialise(n: Notice, now=None, entries: dict | None = None) -> dict:
    now = now or utcnow()
    state = _offer_state(n, entries or {})
    return {
        "notice_id": n.notice_id, "kind": n.kind, "kind_label": texts_rules.label_for(n.kind),
        "title": n.title, "body": state[1] if state else n.body, "url": _safe_url(n.url),
        "state": state[0] if state else None, "reached": _reached(n), "urgent": n.urgent == "1",
        "created_at": n.created_at.isoformat(),
        "created_local": n.created_at.astimezone(ZoneInfo(_tz())).strftime("%m月%d日 %H:%M"),
        "created_relative": rules.relative_time(n.created_at, now, _tz()),
        "read": n.read_at is not None,
        "deliveries": [{"channel": d.channel, "status": d.status, "at": d.at.isoformat(),
                        "detail": d.detail} for d in n.deliveries or []],
    }


def _tz() -> str:
    return current_app.config["COUNTYCARE"].timezone


def _recipient() -> str:
    return notify.recipient_for(current_user())


@bp.app_context_processor
def _unread_badge():
    """`unread_notices()` for the header badge: at most one Query per page, none on the
    inbox page (it counts what it already read), none when signed out."""
    def unread_notices() -> int:
        if "unread_notices" not in g:
            user = current_user()
            g.unread_notices = 0
            if user is not None:
                try:
                    g.unread_notices = notify.unread_count(notify.recipient_for(user))
                except Exception:  # a badge never breaks a page (or the error page)
                    current_app.logger.exception("unread badge")
        return g.unread_notices
    return {"unread_notices": unread_notices}


@bp.get("/notices")
@require()
def inbox_page():
    now = utcnow()
    stored = notify.inbox(_recipient(), limit=notify.INBOX_LIMIT)
    entries = _offer_entries(stored)
    notices = [_serialise(n, now, entries) for n in stored]
    unread = sum(1 for n in notices if not n["read"])
    g.unread_notices = unread  # the header badge reuses this count
    days = rules.group_by_day(list(zip(stored, notices)), lambda pair: pair[0].created_at,
                              now, _tz())
    return render_template("notices.html", notices=notices, unread=unread,
                           days=[(label, [n for _, n in pairs]) for label, pairs in days],
                           channel_labels=CHANNEL_LABELS, status_labels=STATUS_LABELS)


@bp.post("/notices/<notice_id>/open")
@require()
def open_notice(notice_id: str):
    """Works without JavaScript: mark read, then go where the notice points."""
    recipient = _recipient()
    notice = notify.get_notice(recipient, notice_id)
    if notice is None:
        raise NotFound("找不到这条消息", code="notice_not_found")
    notify.mark_read(recipient, notice_id)
    return redirect(_safe_url(notice.url), code=303)


@bp.post("/notices/read-all")
@require()
def read_all_form():
    notify.mark_all_read(_recipient())
    return redirect(url_for("notices.inbox_page"), code=303)


@bp.get("/api/notices")
@require()
@api.describe(summary="我的消息（最新在前）", response=InboxOut, tags=["通知"])
def api_inbox():
    stored = notify.inbox(_recipient(), limit=notify.INBOX_LIMIT)
    entries = _offer_entries(stored)
    notices = [_serialise(n, entries=entries) for n in stored]
    return jsonify(unread=sum(1 for n in notices if not n["read"]), notices=notices)


@bp.get("/api/notices/unread")
@require()
@api.describe(summary="未读消息数", response=UnreadOut, tags=["通知"])
def api_unread():
    return jsonify(unread=notify.unread_count(_recipient()))


@bp.post("/api/notices/<notice_id>/read")
@require()
@api.describe(summary="标记为已读", response=UnreadOut, tags=["通知"])
def api_mark_read(notice_id: str):
    recipient = _recipient()
    if not notify.mark_read(recipient, notice_id):
        raise NotFound("找不到这条消息", code="notice_not_found")
    return jsonify(unread=notify.unread_count(recipient))


@bp.post("/api/notices/read-all")
@require()
@api.describe(summary="全部标记为已读", response=MarkedOut, tags=["通知"])
def api_read_all():
    return jsonify(marked=notify.mark_all_read(_recipient()))
