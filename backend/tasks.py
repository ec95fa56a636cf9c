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
