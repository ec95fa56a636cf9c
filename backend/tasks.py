"""What Zappa's scheduled events call: thin, idempotent wrappers around services.

Each task is registered with its schedule in `SCHEDULE`; `zappa_settings.json` (dev) and
`infra/cloudformation.json` (prod, China) are checked against it by the tests. Zappa
calls `backend.tasks.<name>(event, context)`.
"""
from __future__ import annotations

import logging
from functools import wraps
from typing import Callable

__all__ = ["SCHEDULE", "scheduled", "heartbeat"]

log = logging.getLogger(__name__)

# name -> (schedule expression in UTC, what it does)
SCHEDULE: dict[str, tuple[str, str]] = {}


def _app():
    """The Flask app, created once per Lambda container (binds the models)."""
    from backend.wsgi import app
    return app


def scheduled(expression: str, description: str) -> Callable:
    """Register a task; its run (and outcome) is recorded in the task-runs table."""

    def decorate(fn: Callable[[], dict]) -> Callable:
        SCHEDULE[fn.__name__] = (expression, description)

        @wraps(fn)
        def task(event=None, context=None):
            from backend.models.base import utcnow
            from backend.models.ops import TaskRun

            with _app().app_context():
                try:
                    summary = fn() or {}
                except Exception:
                    log.exception("task failed: %s", fn.__name__)
                    TaskRun(fn.__name__).update(actions=[
                        TaskRun.last_run.set(utcnow()), TaskRun.ok.set(0),
                        TaskRun.runs.add(1)])
                    raise
                TaskRun(fn.__name__).update(actions=[
                    TaskRun.last_run.set(utcnow()), TaskRun.ok.set(1), TaskRun.runs.add(1),
                    TaskRun.summary.set(str(summary)[:1000])])
                log.info("task done: %s %s", fn.__name__, summary)
                return summary

        return task

    return decorate


@scheduled("rate(1 hour)", "记录定时任务心跳，便于确认调度正常")
def heartbeat() -> dict:
    return {"alive": True}


@scheduled("cron(0 18 * * ? *)", "每天凌晨2点（北京时间）按排班生成未来14天的号源（可重复运行）")
def generate_booking_slots() -> dict:
    from backend.services.schedules import generate_all
    return generate_all()


@scheduled("rate(5 minutes)", "候补号源超时未确认的，顺延给下一位")
def expire_waitlist_offers() -> dict:
    from backend.services.booking import expire_offers
    return expire_offers()


@scheduled("cron(0 2 * * ? *)", "就诊前一天提醒：每天10:00（北京时间）通知明天有预约的居民")
def appointment_reminders() -> dict:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from flask import current_app

    from backend.services import reminders
    tz = current_app.config["COUNTYCARE"].timezone
    return reminders.send_day_before(datetime.now(ZoneInfo(tz)).date(), tz=tz)


@scheduled("cron(0 23 * * ? *)", "夜间（22:00-7:00）暂缓的推送在北京时间7:00发出")
def release_held_pushes() -> dict:
    from backend.services import push
    return push.release_held()


# ---- family-doctor care (issue 6) ----------------------------------------------------
@scheduled("cron(0 0 * * ? *)", "每天早上8点（北京时间）给每位团队成员发一条随访到期汇总")
def followup_digest() -> dict:
    from backend.services.care_common import local_today
    from backend.services.followups import send_due_digests
    return send_due_digests(local_today())


@scheduled("cron(30 16 * * ? *)", "每天零点半（北京时间）处理到期签约并提前30天提醒续约")
def contract_renewals() -> dict:
    from backend.services.care_common import local_today
    from backend.services.contracts import expire_contracts, send_renewal_reminders
    today = local_today()
    return {"expired": expire_contracts(today), "reminded": send_renewal_reminders(today)}


# ---- the notice ladder (issue 11) ------------------------------------------------------
@scheduled("rate(1 minute)", "必达通知（候补号源、停诊、转诊预约）推送未在时限内确认的，改发短信（每条最多一次）")
def escalate_notices() -> dict:
    from backend.services import ladder
    return ladder.run_due()


# ---- county indicators (issue 13) ---------------------------------------------------------
@scheduled("cron(30 17 * * ? *)", "每天凌晨1点半（北京时间）汇总本月与时间有关的指标（按键遍历，可重复运行）")
def indicators_nightly() -> dict:
    from backend.services.care_common import local_today
    from backend.services.indicator_aggregate import aggregate
    return aggregate(local_today())
