"""Operational records: when each scheduled task last ran."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from backend.models.base import BaseModel

__all__ = ["TaskRun"]


class TaskRun(BaseModel):
    """PK task: the task's name; the last run's time, outcome and summary."""

    class Meta:
        table = "task-runs"

    task = UnicodeAttribute(hash_key=True)
    last_run = UTCDateTimeAttribute()
    ok = NumberAttribute()
    summary = UnicodeAttribute(null=True)
    runs = NumberAttribute(default=0)
