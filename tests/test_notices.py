"""The in-app inbox: list, unread badge, mark as read; nobody reads another's notices."""
from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from backend.models.notices import Notice
from backend.services import notify, reminders

_phones = itertools.count(120)


def login_someone(person, demo) -> dict:
    while True:
        r = demo.residents[next(_phones)]
        if r["phone"]:
            return person.login_resident(r["phone"])


@pytest.fixture()
def resident(person, demo, app):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    with app.app_context():
        sent = [notify.notify(recipient, kind=kind, title=title, body="正文" + title, url=url)
                for kind, title, url in [("vaccine_due", "接种提醒", "/vaccination/c1"),
                                         ("appointment_reminder", "就诊提醒", "/booking/b1"),
                                         ("followup_due", "随访提醒", "https://evil.example/x")]]
    return me, recipient, sent


def test_inbox_page_lists_notices_with_unread_badge(client, resident):
    me, recipient, sent = resident
    html = client.get("/notices").get_data(as_text=True)
    assert "消息" in html and 'id="unread-count"' in html
    for n in sent:
        assert n.title in html
        assert f"/notices/{n.notice_id}/open" in html
    inbox = client.get("/api/notices").get_json()
    ids = [n["notice_id"] for n in inbox["notices"]]
    assert ids[:3] == [n.notice_id for n in reversed(sent)]   # newest first
    assert inbox["unread"] >= 3
    assert inbox["notices"][0]["kind_label"] == "随访提醒"
    assert inbox["notices"][0]["url"] == "/notices"            # never a link out of the app
    assert inbox["notices"][0]["deliveries"][0]["channel"] == "inbox"


def test_mark_read_and_unread_count(client, person, resident):
    me, recipient, sent = resident
    token = person.page_csrf()
    before = client.get("/api/notices/unread").get_json()["unread"]
    r = client.post(f"/api/notices/{sent[0].notice_id}/read", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["unread"] == before - 1
    first_read = Notice.get(recipient, sent[0].notice_id).read_at
    assert first_read is not None
    client.post(f"/api/notices/{sent[0].notice_id}/read", headers={"X-CSRF-Token": token})
    assert Notice.get(recipient, sent[0].notice_id).read_at == first_read  # first reading kept
    r = client.post("/api/notices/read-all", headers={"X-CSRF-Token": token})
    assert r.get_json()["marked"] == before - 1
    assert client.get("/api/notices/unread").get_json()["unread"] == 0


def test_open_marks_read_and_goes_to_the_notice(client, person, resident):
    me, recipient, sent = resident
    token = person.page_csrf()
    r = client.post(f"/notices/{sent[1].notice_id}/open", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"] == "/booking/b1"
    assert Notice.get(recipient, sent[1].notice_id).read_at is not None
    r = client.post(f"/notices/{sent[2].notice_id}/open", data={"csrf_token": token})
    assert r.headers["Location"] == "/notices"


def test_cannot_read_or_mark_another_persons_notice(app, client, person, demo, resident):
    me, recipient, sent = resident
    other = notify.resident_recipient("res-000002")
    with app.app_context():
        theirs = notify.notify(other, kind="vaccine_due", title="别人的", body="x")
    token = person.page_csrf()
    r = client.post(f"/api/notices/{theirs.notice_id}/read", headers={"X-CSRF-Token": token})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "notice_not_found"
    r = client.post(f"/notices/{theirs.notice_id}/open", data={"csrf_token": token})
    assert r.status_code == 404
    assert Notice.get(other, theirs.notice_id).read_at is None
    # Marking a notice that does not exist creates nothing.
    client.post("/api/notices/01NOSUCHNOTICE/read", headers={"X-CSRF-Token": token})
    with pytest.raises(Notice.DoesNotExist):
        Notice.get(recipient, "01NOSUCHNOTICE")


def test_inbox_needs_a_session(app):
    fresh = app.test_client()
    assert fresh.get("/api/notices").status_code == 401
    assert fresh.get("/notices").status_code == 401


class Tomorrow:
    """A stand-in for the booking capability's appointments."""

    def __init__(self, appointments):
        self.appointments = appointments
        self.asked: list[date] = []

    def appointments_on(self, day):
        self.asked.append(day)
        return [a for a in self.appointments if a.starts_at.date() == day]


def test_day_before_reminder_once_per_appointment(app):
    from backend.models.base import new_id
    today = date(2026, 11, 25)
    cst = timezone(timedelta(hours=8))
    elder, child, other = (f"res-r{new_id()}" for _ in range(3))
    source = Tomorrow([
        reminders.Appointment("appt-" + new_id(), elder, datetime(2026, 11, 26, 9, 30, tzinfo=cst),
                              "乌兰镇卫生院 全科门诊", url="/booking/x1", also_notify=(child,)),
        reminders.Appointment("appt-" + new_id(), other, datetime(2026, 11, 27, 9, 0, tzinfo=cst),
                              "人民医院 超声", what="超声检查"),
    ])
    with app.app_context():
        first = reminders.send_day_before(today, sources=[source])
        again = reminders.send_day_before(today, sources=[source])
    assert source.asked == [date(2026, 11, 26)] * 2
    assert first == {"day": "2026-11-26", "appointments": 1, "sent": 2, "already_sent": 0}
    assert again == {"day": "2026-11-26", "appointments": 1, "sent": 0, "already_sent": 2}
    for rid in (elder, child):
        [n] = list(Notice.query(notify.resident_recipient(rid)))
        assert n.kind == "appointment_reminder" and n.url == "/booking/x1"
        assert n.title == "明天09:30门诊提醒"
        assert "11月26日" in n.body and "乌兰镇卫生院 全科门诊" in n.body
    assert list(Notice.query(notify.resident_recipient(other))) == []


def test_scheduled_tasks_match_zappa_events():
    from pathlib import Path

    from backend import tasks
    events = json.loads((Path(__file__).parent.parent / "zappa_settings.json").read_text())["dev"]["events"]
    scheduled = {e["function"].rsplit(".", 1)[1]: e["expression"] for e in events}
    for name in ("appointment_reminders", "release_held_pushes"):
        assert tasks.SCHEDULE[name][0] == scheduled[name]
    assert tasks.SCHEDULE["release_held_pushes"][0] == "cron(0 23 * * ? *)"  # 07:00 Shanghai


def test_release_task_runs_and_is_recorded(app, monkeypatch):
    from backend import tasks
    from backend.models.ops import TaskRun
    monkeypatch.setattr(tasks, "_app", lambda: app)  # not backend.wsgi's app from the environment
    summary = tasks.release_held_pushes()
    assert "released" in summary
    assert TaskRun.get("release_held_pushes").ok == 1
