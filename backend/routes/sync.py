"""Offline sync: the day's download, the outbox upload, device reports (JSON + pages)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from flask import Blueprint, jsonify, render_template
from pydantic import Field, ValidationError

from backend import api
from backend.routes.care import ElderVisitIn, FollowUpIn
from backend.security import current_user, require
from backend.services import day_sync, offline_kinds, outbox  # noqa: F401  (kinds register)

bp = Blueprint("sync", __name__)

TAGS = ["离线同步"]
RECORD_ID = r"^[A-Za-z0-9_-]{8,64}$"


def owner_key(login: str) -> str:
    """The phone-side partition of a user's offline data (not the login itself)."""
    return hashlib.sha256(f"cc-offline:{login}".encode()).hexdigest()[:20]


# ---- schemas -------------------------------------------------------------------------
class ChangesQuery(api.Schema):
    after: int = Field(default=0, ge=0, le=10**12)
    limit: int = Field(default=day_sync.PAGE_ROWS, ge=1, le=day_sync.PAGE_ROWS)


class RecordIn(api.Schema):
    id: str = Field(pattern=RECORD_ID)
    kind: str = Field(min_length=1, max_length=32)
    resident_id: str = Field(min_length=1, max_length=64)
    made_at: str | None = Field(default=None, max_length=40)
    data: dict[str, Any]


class ElderVisitRecord(ElderVisitIn):
    visit_date: date | None = None


class ResidentDetailsRecord(api.Schema):
    phone: str | None = Field(default=None, max_length=11)
    base_version: int = Field(ge=0, le=10**9)


# kind -> the schema of its `data` (add a kind here and in services.outbox.KINDS)
KIND_SCHEMAS: dict[str, type[api.Schema]] = {
    "followup": FollowUpIn, "elder_visit": ElderVisitRecord,
    "resident_details": ResidentDetailsRecord,
}


class RecordsIn(api.Schema):
    device_id: str = Field(pattern=RECORD_ID)
    # Raw objects: one malformed record is answered on its own, never fails the batch.
    records: list[Any] = Field(min_length=1, max_length=outbox.MAX_RECORDS)


class DeviceIn(api.Schema):
    device_id: str = Field(pattern=RECORD_ID)
    pending: int = Field(ge=0, le=10**6)
    refused: int = Field(default=0, ge=0, le=10**6)
    set_aside: int = Field(default=0, ge=0, le=10**6)
    residents: int = Field(default=0, ge=0, le=10**6)
    last_sync: datetime | None = None
    label: str | None = Field(default=None, max_length=64)


class Who(api.Schema):
    owner: str
    display_name: str
    team_id: str | None
    role: str
    csrf_token: str


# ---- JSON ----------------------------------------------------------------------------
@bp.get("/api/sync/whoami")
@require()
@api.describe(summary="本机离线数据归属（当前登录用户）与提交令牌", response=Who, tags=TAGS)
def api_whoami():
    u = current_user()
    return jsonify(owner=owner_key(u.login), display_name=u.display_name, team_id=u.team_id,
                   role=u.role, csrf_token=u.csrf_token)


@bp.get("/api/sync/changes")
@require("doctor")
@api.describe(summary="下载本团队居民的变化（按团队序号分页，可断点续传）", tags=TAGS)
def api_changes():
    q = api.query(ChangesQuery)
    page = day_sync.download(current_user(), q.after, limit=q.limit)
    return jsonify(owner=owner_key(current_user().login), **page)


def _parse_record(index: int, raw: Any) -> outbox.Incoming | outbox.Answer:
    rid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    try:
        rec = RecordIn.model_validate(raw)
        schema = KIND_SCHEMAS.get(rec.kind)
        if schema is None:
            return outbox.Answer(rec.id, outbox.REFUSED, code="unknown_kind",
                                 message="不认识的记录类型，请更新应用")
        data = schema.model_validate(rec.data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        return outbox.Answer(rid or f"#{index}", outbox.REFUSED, code="invalid_record",
                             message=f"记录内容不完整或已损坏（{field}：{api._MESSAGES.get(first['type'], '取值无效')}）")
    return outbox.Incoming(rec.id, rec.kind, rec.resident_id, rec.made_at, data, rec.data)


@bp.post("/api/sync/records")
@require("doctor")
@api.body(RecordsIn, summary="上传离线记录（每条单独答复：已保存、此前已保存、被拒及原因）", tags=TAGS)
def api_records(data: RecordsIn):
    user = current_user()
    parsed = [_parse_record(i, raw) for i, raw in enumerate(data.records)]
    todo = [p for p in parsed if isinstance(p, outbox.Incoming)]
    answers = iter(outbox.receive(user, todo) if todo else [])
    results = [(p if isinstance(p, outbox.Answer) else next(answers)).as_json() for p in parsed]
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return jsonify(results=results, counts=counts)


@bp.post("/api/sync/device")
@require("doctor")
@api.body(DeviceIn, summary="本机同步情况报告（未上传条数、上次同步时间）", tags=TAGS)
def api_device(data: DeviceIn):
    outbox.report_device(current_user(), **data.model_dump())
    return jsonify(ok=True)


def _phone(row: outbox.PhoneRow) -> dict:
    return {"doctor": row.doctor, "team": row.team, "label": row.label, "pending": row.pending,
            "refused": row.refused, "set_aside": row.set_aside,
            "last_sync": row.last_sync.isoformat() if row.last_sync else None,
            "reported_at": row.reported_at.isoformat()}


@bp.get("/api/sync/devices")
@require("township_admin")
@api.describe(summary="本中心医生手机的同步情况与待核对记录", tags=TAGS)
def api_devices():
    rows, held = outbox.centre_phones(current_user())
    return jsonify(phones=[_phone(r) for r in rows],
                   held=[{"resident_name": h.resident_name, "kind": h.kind, "reason": h.reason,
                          "made_at": h.made_at, "received_at": h.received_at.isoformat()}
                         for h in held])


def local_when(moment: datetime) -> str:
    """12月3日 周四 14:05, in the county's time."""
    from zoneinfo import ZoneInfo

    from backend.web import cn_day
    local = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    return f"{cn_day(local.date())} {local:%H:%M}"


# ---- pages -----------------------------------------------------------------------------
@bp.get("/team/day")
def day_page():
    """The doctor's offline workspace: a shell with nothing personal in it (the service
    worker keeps it for offline use); the page script renders from the phone's own data."""
    return render_template("offline/day.html")


@bp.get("/centre/phones")
@require("township_admin")
def phones_page():
    rows, held = outbox.centre_phones(current_user())
    return render_template("offline/phones.html", rows=rows, held=held, when=local_when,
                           kinds={"followup": "慢病随访", "elder_visit": "老年人健康管理",
                                  "resident_details": "居民信息修改"})


__all__ = ["bp", "owner_key", "KIND_SCHEMAS"]
