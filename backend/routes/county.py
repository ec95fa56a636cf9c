"""The county's view: the indicator dashboard with its drill-down, deadlines, and exports."""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for
from pydantic import Field

from backend import api, charts
from backend.models.base import utcnow
from backend.rules import duty as duty_rules
from backend.security import current_user, require
from backend.services import county as svc
from backend.services import exports
from backend.services.indicators import FIGURES
from backend.services.schedules import today

bp = Blueprint("county", __name__)


class FigureOut(api.Schema):
    key: str
    label: str
    value: float | None
    numerator: int | None
    denominator: int | None
    target: float | None
    source: Literal["live", "nightly", "both"]
    unit: str


class ScopeOut(api.Schema):
    facility_id: str
    name: str
    level: str


class ChildOut(ScopeOut):
    figures: list[FigureOut]


class IndicatorsOut(api.Schema):
    scope: ScopeOut
    today: str
    aggregated_at: str | None
    figures: list[FigureOut]
    trend: dict[str, list[list]]
    children: list[ChildOut]


class ExportIn(api.Schema):
    kind: Literal["roster", "activity", "indicators"]
    scope: str = Field(min_length=1, max_length=40)
    period: str = Field(min_length=4, max_length=7)


class ExportOut(api.Schema):
    job_id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    rows_done: int
    rows_total: int
    download: str | None


def _figure(f) -> dict:
    return {"key": f.key, "label": f.label, "value": f.value, "numerator": f.numerator,
            "denominator": f.denominator, "target": f.target, "source": f.source, "unit": f.unit}


def _scope(f) -> dict:
    return {"facility_id": f.facility_id, "name": f.name, "level": svc.LEVELS[f.kind]}


@bp.get("/county")
@require("county")
def dashboard_page():
    return _render(None)


@bp.get("/county/f/<facility_id>")
@require("county")
def drill_page(facility_id: str):
    return _render(facility_id)


def _render(facility_id: str | None):
    d = svc.dashboard(current_user(), facility_id)
    by_key = {f.key: f for f in d.figures}
    kid_charts = []
    if d.children:
        for key in ("contract_rate", "followups_q", "bp_controlled", "satisfaction"):
            label, target, _, _ = FIGURES[key]
            rows = [(c.facility.name, next(f.value for f in c.figures if f.key == key)) for c in d.children]
            shown = [r for r in rows if r[1] is not None]  # e.g. the hospital has no residents
            kid_charts.append((label, charts.bars(shown or rows, target=target, title=label)))
    trend_charts = [(FIGURES[k][0], charts.trend(d.trend[k], title=FIGURES[k][0], target=FIGURES[k][1]))
                    for k in svc.TREND_KEYS]
    return render_template("county/dashboard.html", d=d, by_key=by_key, kid_charts=kid_charts,
                           trend_charts=trend_charts, quarter=duty_rules.quarter_of(d.today),
                           label=duty_rules.weekday_label, cn_time=cn_time, now=utcnow(),
                           dict_of=lambda figs: {f.key: f for f in figs})


def cn_time(dt) -> str:
    """12月3日 周四 15:30 in the county's time."""
    from backend.rules.booking import CHINA
    local = dt.astimezone(CHINA)
    return f"{duty_rules.weekday_label(local.date())} {local:%H:%M}"


@bp.get("/api/county/indicators")
@require("county")
@api.describe(summary="全旗指标（本月、近12个月趋势、下一级机构）", response=IndicatorsOut,
              tags=["county"])
def indicators_api():
    d = svc.dashboard(current_user(), request.args.get("facility") or None)
    return jsonify({
        "scope": _scope(d.scope), "today": d.today.isoformat(),
        "aggregated_at": d.as_of.isoformat() if d.as_of else None,
        "figures": [_figure(f) for f in d.figures],
        "trend": {k: [[m, v] for m, v in pts] for k, pts in d.trend.items()},
        "children": [{**_scope(c.facility), "figures": [_figure(f) for f in c.figures]}
                     for c in d.children]})


@bp.get("/county/deadlines")
@require("county")
def deadlines_page():
    year = today().year
    rows = svc.county_deadlines(current_user(), year)
    return render_template("county/deadlines.html", rows=rows, year=year,
                           statuses=STATUS_LABELS)


STATUS_LABELS = {"filed": ("已按时上报", "ok"), "filed_late": ("逾期后补报", "bad"),
                 "late": ("已逾期未报", "bad"), "due": ("待上报", "warn"),
                 "upcoming": ("季度结束后上报", "")}


# ---- exports ---------------------------------------------------------------------------

def _job_out(job) -> dict:
    return {"job_id": job.job_id, "kind": job.kind, "status": job.status,
            "rows_done": int(job.rows_done or 0), "rows_total": int(job.rows_total or 0),
            "download": url_for("county.export_download", job_id=job.job_id)
            if job.status == "done" else None}


@bp.post("/exports")
@require("county", "township_admin")
def export_form():
    user = current_user()
    job = exports.start(user, kind=request.form.get("kind", ""),
                        scope=request.form.get("scope") or user.facility_id or "",
                        period=request.form.get("period", ""))
    return redirect(url_for("county.export_page", job_id=job.job_id), code=303)


@bp.get("/exports/<job_id>")
@require("county", "township_admin")
def export_page(job_id: str):
    job = exports.job_for(current_user(), job_id)
    resp = make_response(render_template("county/export.html", job=job, title=exports.KINDS[job.kind]))
    if job.status in ("queued", "running"):
        resp.headers["Refresh"] = "2"  # progress without JavaScript
    return resp


@bp.get("/exports/<job_id>/download")
@require("county", "township_admin")
def export_download(job_id: str):
    return redirect(exports.download_link(current_user(), job_id), code=303)


@bp.post("/api/exports")
@require("county", "township_admin")
@api.body(ExportIn, summary="导出报表（后台生成 .xlsx）", response=ExportOut, tags=["county"])
def export_api(data: ExportIn):
    job = exports.start(current_user(), kind=data.kind, scope=data.scope, period=data.period)
    return jsonify(_job_out(job)), 202


@bp.get("/api/exports/<job_id>")
@require("county", "township_admin")
@api.describe(summary="导出进度", response=ExportOut, tags=["county"])
def export_status_api(job_id: str):
    return jsonify(_job_out(exports.job_for(current_user(), job_id)))
