""".xlsx exports in the shape of the seed's attachments, written by a background task to S3.

Lambda answers at most 6 MB, so every export is a job: `start` stores an `ExportJob` and
hands `run` to a background task (Zappa's asynchronous Lambda invocation on AWS, a thread
locally); `run` writes the workbook with XlsxWriter in constant-memory mode (rows are
flushed to disk as they are written) and puts it in the exports bucket; the page polls the
job and then offers a presigned link valid for five minutes. XlsxWriter is imported here
only (Lambda cold start).
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from datetime import date, timedelta

from pynamodb.exceptions import DoesNotExist

from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.models.base import new_id, utcnow
from backend.models.county import ExportJob
from backend.rules import duty as duty_rules
from backend.services.auth import CurrentUser

__all__ = ["KINDS", "start", "run", "job_for", "download_link", "XLSX", "LINK_SECONDS"]

log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LINK_SECONDS = 300
KINDS = {"roster": "巡回坐诊人员名单备案表（附件一）",
         "activity": "累计开展巡回坐诊活动情况统计表（附件二）",
         "indicators": "基层卫生健康服务指标"}
PROGRESS_EVERY = 500


def _config():
    from flask import current_app
    return current_app.config["COUNTYCARE"]


def _check_scope(user: CurrentUser, kind: str, scope: str) -> None:
    from backend.services.county import facility_in_county
    if user.role == "county":
        facility_in_county(user, scope)
    elif user.role == "township_admin":
        if scope != user.facility_id:
            raise Forbidden("只能导出本卫生院的报表")
    else:
        raise Forbidden("只有卫健委和卫生院管理员可以导出报表")


def _check_period(kind: str, period: str) -> None:
    from backend.services.duty import check_quarter
    from backend.services.schedules import today
    if kind == "activity":
        check_quarter(period, ended=False)
    elif kind == "roster":
        if not (period.isdigit() and len(period) == 4 and int(period) <= today().year + 1):
            raise ValidationFailed("年份不正确", code="invalid_year")
    else:
        if len(period) != 7 or period[4] != "-" or not period.replace("-", "").isdigit() \
                or not 1 <= int(period[5:]) <= 12:
            raise ValidationFailed("月份格式应为 2026-12", code="invalid_month")
        if period > f"{today():%Y-%m}":
            raise ValidationFailed("该月份还没有到", code="month_in_future")


def start(user: CurrentUser, *, kind: str, scope: str, period: str) -> ExportJob:
    if kind not in KINDS:
        raise ValidationFailed("不支持的报表", code="invalid_export_kind")
    _check_scope(user, kind, scope)
    _check_period(kind, period)
    job = ExportJob(new_id(), owner=user.login, kind=kind, scope=scope, period=period,
                    created_at=utcnow(), expires_at=timedelta(days=7))
    job.save(condition=ExportJob.job_id.does_not_exist())
    _dispatch(job.job_id)
    return job


def _dispatch(job_id: str) -> None:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        from zappa.asynchronous import run as run_async
        run_async(run_task, args=[job_id])
        return
    from flask import current_app
    app = current_app._get_current_object()

    def work():
        with app.app_context():
            run(job_id)

    threading.Thread(target=work, daemon=True, name=f"export-{job_id}").start()


def run_task(job_id: str) -> None:
    """What the asynchronous Lambda invocation calls (Zappa imports it by path)."""
    from backend.tasks import _app
    with _app().app_context():
        run(job_id)


def job_for(user: CurrentUser, job_id: str) -> ExportJob:
    try:
        job = ExportJob.get(job_id, consistent_read=True) if 0 < len(job_id) <= 40 else None
    except DoesNotExist:
        job = None
    if job is None or job.owner != user.login:
        raise NotFound("找不到该导出任务", code="export_not_found")
    return job


def download_link(user: CurrentUser, job_id: str) -> str:
    from backend import blobstore
    job = job_for(user, job_id)
    if job.status != "done":
        raise NotFound("文件还没有生成好", code="export_not_ready")
    cfg = _config()
    return blobstore.download_url(cfg, cfg.bucket("exports"), job.object_key,
                                  filename=job.filename, expires_seconds=LINK_SECONDS)


def run(job_id: str) -> None:
    """Write the workbook and put it in S3 (idempotent: a finished job is left alone)."""
    job = ExportJob.get(job_id, consistent_read=True)
    if job.status == "done":
        return
    job.update(actions=[ExportJob.status.set("running")])
    try:
        path, name = _write(job)
        try:
            from backend import blobstore
            cfg = _config()
            key = f"exports/{job.job_id}/{job.kind}-{job.period}.xlsx"
            with open(path, "rb") as fh:
                blobstore.put(cfg, cfg.bucket("exports"), key, fh.read(), content_type=XLSX)
        finally:
            os.unlink(path)
        job.update(actions=[ExportJob.status.set("done"), ExportJob.object_key.set(key),
                            ExportJob.filename.set(name)])
    except Exception as err:
        log.exception("export failed: %s", job_id)
        job.update(actions=[ExportJob.status.set("failed"),
                            ExportJob.error.set(type(err).__name__)])


class _Sheet:
    """A constant-memory worksheet written row by row, with the job's progress."""

    def __init__(self, book, name: str, job: ExportJob, formats: dict):
        self.ws = book.add_worksheet(name)
        self.job, self.f, self.row = job, formats, 0

    def title(self, text: str, width: int) -> None:
        self.ws.merge_range(self.row, 0, self.row, width - 1, text, self.f["title"])
        self.row += 1

    def line(self, values: list, fmt: str | None = None) -> None:
        for col, v in enumerate(values):
            self.ws.write(self.row, col, v, self.f.get(fmt) if fmt else None)
        self.row += 1
        if self.row % PROGRESS_EVERY == 0:
            self.job.update(actions=[ExportJob.rows_done.set(self.row)])


def _write(job: ExportJob) -> tuple[str, str]:
    import xlsxwriter
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tempfile.gettempdir()})
    formats = {"title": book.add_format({"bold": True, "font_size": 14, "align": "center"}),
               "head": book.add_format({"bold": True, "border": 1, "bg_color": "#E8F0EE"}),
               "note": book.add_format({"italic": True, "font_color": "#555555"})}
    from backend.services.county import scope_name
    name = f"{scope_name(job.scope)}{KINDS[job.kind]}-{job.period}.xlsx"
    if job.kind == "roster":
        _roster_sheet(_Sheet(book, "备案表", job, formats), job)
    elif job.kind == "activity":
        _activity_sheets(book, job, formats)
    else:
        _indicator_sheet(_Sheet(book, "指标", job, formats), job)
    book.close()
    return path, name


def _stamp() -> str:
    from datetime import datetime
    from backend.rules.booking import CHINA
    now = datetime.now(CHINA)
    return f"导出时间：{now:%Y年%m月%d日 %H:%M}（数据截至此时）"


def _centres(scope: str) -> list:
    from backend.services.county import centres_under
    return centres_under(scope)


ROSTER_HEAD = ["序号", "乡镇卫生院", "坐诊模式", "医生姓名", "职称", "坐诊村卫生室", "坐诊时间",
               "类型", "是否符合要求"]
ACTIVITY_HEAD = ["序号", "乡镇卫生院", "村卫生室", "坐诊医生", "应坐诊（半天）", "已坐诊（半天）",
                 "未坐诊（半天）", "诊疗人次", "完成率"]


def _roster_sheet(s: _Sheet, job: ExportJob) -> None:
    from backend.services.duty import roster_view
    s.title(f"{job.period}年巡回坐诊人员名单备案表", len(ROSTER_HEAD))
    s.line([_stamp()], "note")
    s.line(ROSTER_HEAD, "head")
    n = 0
    for centre in _centres(job.scope):
        view = roster_view(centre.facility_id, int(job.period))
        if view["roster"] is None:
            continue
        ok = "符合" if view["compliant"] else "不符合：" + "；".join(
            (view["villages"][v.village_id].name + v.message) if v.village_id else v.message
            for v in view["violations"])
        model = "固定坐诊" if view["roster"].model == "fixed" else "轮岗坐诊"
        for e in view["entries"]:
            n += 1
            doc = view["staff"].get(e.doctor_login, {"name": "", "title": ""})
            weeks = "每周" if set(e.weeks) >= {1, 2, 3, 4, 5} else "每月第" + "、".join(map(str, e.weeks)) + "个"
            s.line([n, centre.name, model, doc["name"], doc["title"], view["villages"][e.village_id].name,
                    f"{weeks}周{'一二三四五六日'[e.weekday]}{duty_rules.HALVES[e.half]}", "坐诊", ok])
        for st in view["roster"].standins:
            n += 1
            doc = view["staff"].get(st.doctor_login, {"name": "", "title": ""})
            s.line([n, centre.name, model, doc["name"], doc["title"], view["villages"][st.village_id].name,
                    f"{st.start} 至 {st.end}", "派驻", st.reason])
    if n == 0:
        s.line(["本年度没有已保存的坐诊排班"], "note")
    job.update(actions=[ExportJob.rows_done.set(s.row), ExportJob.rows_total.set(s.row)])


def _activity_sheets(book, job: ExportJob, formats: dict) -> None:
    from backend.models.county import DutySession
    from backend.services.duty import centre_staff, quarter_activity, villages_of
    year, q = duty_rules.parse_quarter(job.period)
    start, end = duty_rules.quarter_bounds(year, q)
    s = _Sheet(book, "统计表", job, formats)
    s.title(f"{year}年第{q}季度累计开展巡回坐诊活动情况统计表", len(ACTIVITY_HEAD))
    s.line([_stamp()], "note")
    s.line(ACTIVITY_HEAD, "head")
    centres = _centres(job.scope)
    totals = [0, 0, 0, 0]
    n = 0
    for centre in centres:
        for r in quarter_activity(centre.facility_id, job.period):
            if not (r["planned"] or r["held"] or r["missed"]):
                continue
            n += 1
            rate = f"{r['held'] / r['planned'] * 100:.1f}%" if r["planned"] else "—"
            s.line([n, centre.name, r["village"], r["doctors"], r["planned"], r["held"], r["missed"],
                    r["patients"], rate])
            for i, k in enumerate(("planned", "held", "missed", "patients")):
                totals[i] += r[k]
    if n == 0:
        s.line(["本季度无坐诊记录（没有排班，也没有登记的坐诊）"], "note")
    else:
        rate = f"{totals[1] / totals[0] * 100:.1f}%" if totals[0] else "—"
        s.line(["合计", "", "", ""] + totals + [rate], "head")
    detail = _Sheet(book, "坐诊明细", job, formats)
    detail.line(["日期", "时段", "乡镇卫生院", "村卫生室", "坐诊医生", "情况", "诊疗人次"], "head")
    from backend.services.schedules import today
    until = min(end, today())
    for centre in centres:
        villages, staff = villages_of(centre.facility_id), centre_staff(centre.facility_id)
        for x in DutySession.query(centre.facility_id, DutySession.session_key.between(
                start.isoformat(), f"{until.isoformat()}~")):
            detail.line([duty_rules.weekday_label(date.fromisoformat(x.day)),
                         duty_rules.HALF_LABELS.get(x.half, x.half), centre.name,
                         villages[x.village_id].name if x.village_id in villages else "",
                         staff.get(x.doctor_login, {}).get("name", ""),
                         "已坐诊" if x.status == "held" else "未坐诊", int(x.patients or 0)])
    if detail.row == 1:
        detail.line(["本季度无坐诊记录"], "note")
    job.update(actions=[ExportJob.rows_done.set(s.row + detail.row),
                        ExportJob.rows_total.set(s.row + detail.row)])


def _indicator_sheet(s: _Sheet, job: ExportJob) -> None:
    from backend.services.county import indicator_rows
    rows = indicator_rows(job.scope, job.period)
    labels = [f.label for f in rows[0]["figures"]] if rows else []
    s.title(f"{job.period} 基层卫生健康服务指标", 2 + len(labels))
    s.line([_stamp()], "note")
    s.line(["机构", "层级"] + labels, "head")
    for r in rows:
        s.line([r["name"], r["level"]] + [f.text for f in r["figures"]])
    job.update(actions=[ExportJob.rows_done.set(s.row), ExportJob.rows_total.set(s.row)])
