"""The in-app inbox: every notice a person got, with an unread badge and mark-as-read."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, url_for

from backend import api
from backend.errors import NotFound
from backend.models.base import utcnow
from backend.models.notices import Notice
from backend.rules import notices as rules
from backend.security import current_user, require
from backend.services import notify

bp = Blueprint("notices", __name__)

KIND_LABELS = {
    "slot_offer": "号源释放",
    "appointment_reminder": "就诊提醒",
    "vaccine_due": "疫苗接种",
    "followup_due": "随访提醒",
    "noshow_warning": "未到诊提醒",
    "booking_paused": "预约暂停",
    "contract_renewal": "签约续约",
}
CHANNEL_LABELS = {"inbox": "站内消息", "webpush": "手机推送", "sms": "短信"}
STATUS_LABELS = {"delivered": "已送达", "failed": "未送达", "held": "夜间暂缓"}


class NoticeOut(api.Schema):
    notice_id: str
    kind: str
    kind_label: str
    title: str
    body: str
    url: str
    urgent: bool
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
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/notices"


def _serialise(n: Notice, now=None) -> dict:
    now = now or utcnow()
    return {
        "notice_id": n.notice_id, "kind": n.kind, "kind_label": KIND_LABELS.get(n.kind, "通知"),
        "title": n.title, "body": n.body, "url": _safe_url(n.url), "urgent": n.urgent == "1",
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
    notices = [_serialise(n, now) for n in stored]
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
    notices = [_serialise(n) for n in notify.inbox(_recipient(), limit=notify.INBOX_LIMIT)]
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
