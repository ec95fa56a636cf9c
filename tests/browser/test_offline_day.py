"""A doctor's day without signal, in Chromium at 360 px: nothing lost, nothing stored twice."""
from __future__ import annotations

import json
from pathlib import Path

from backend.models.care import ElderVisit, FollowUp
from backend.routes.sync import owner_key
from backend.rules.contracts import CONSENT_VERSION, Consent
from backend.services.auth import CurrentUser
from backend.services.contracts import sign
from tests.browser.conftest import login_staff
from tests.test_care_http import make_resident

TOWNSHIP, VILLAGE = "twp-05", "vil-twp-05-03"
DOCTOR = CurrentUser(login="s:doctor08", role="doctor", display_name="测试医生", resident_id=None,
                     facility_id=TOWNSHIP, team_id="team-08", csrf_token="x", session_hash="x")
CASES = json.loads((Path(__file__).parent.parent / "cases" / "followup_cases.json").read_text("utf-8"))


def patients(n: int, age: int = 70) -> list:
    out = [make_resident(age=age, conditions=("hypertension",), township=TOWNSHIP, village=VILLAGE)
           for _ in range(n)]
    for p in out:
        sign(DOCTOR, resident_ids=[p.resident_id], team_id=None, kind="individual", years=1,
             channel="desk", consent=Consent("paper", CONSENT_VERSION, witness=DOCTOR.login,
                                             form_no="QY-T-0001"))
    return out


def open_day(page, base: str) -> None:
    """The day page, controlled by the service worker, after its first sync."""
    page.goto(f"{base}/team/day")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("caches.keys().then(k => k.some(n => n.startsWith('cc-shell-')))")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.locator("#sync-last", has_text="上次同步").wait_for()


def pending(page) -> str:
    return page.locator("#sync-pending").inner_text()


def wait_pending(page, n: int) -> str:
    """The outbox count once it has caught up (it is written after IndexedDB answers)."""
    page.locator("#sync-pending", has_text=f"待上传 {n} 条").wait_for()
    return pending(page)


def open_resident(page, resident) -> None:
    """The resident's view, once it has replaced the one before (the forms are re-drawn)."""
    page.evaluate(f"location.hash = '#r/{resident.resident_id}'")
    page.locator("#resident-name", has_text=resident.name).wait_for()


def record_followup(page, resident, systolic: int, diastolic: int) -> None:
    open_resident(page, resident)
    form = page.locator("#day-followup")
    form.locator('input[name="systolic"]').fill(str(systolic))
    form.locator('input[name="diastolic"]').fill(str(diastolic))
    form.locator('button[type="submit"]').click()
    page.locator("#sync-msg", has_text="已保存在本机").wait_for()


def stored(people) -> tuple[int, int]:
    followups = sum(len(list(FollowUp.query(p.resident_id))) for p in people)
    visits = sum(1 for p in people for v in ElderVisit.query(p.resident_id) if v.visit_key != "latest")
    return followups, visits


def test_a_day_offline_keeps_every_record_through_reloads_kills_and_an_update(
        phone, live_server, monkeypatch):
    from backend import web
    from backend.routes import pages
    from backend.services import outbox
    people = patients(3)
    page = phone.new_page()
    login_staff(page, live_server, "doctor08")
    open_day(page, live_server)
    page.fill("#roster-search", people[0].name)
    page.locator("#roster li", has_text=people[0].name).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # The roster's filters work on the phone's copy: a 70-year-old with hypertension passes
    # 65+ and hypertension, not diabetes (a Chinese empty message, never a blank list).
    page.select_option("#filter-group", "elder")
    page.locator("#roster li", has_text=people[0].name).wait_for()
    page.select_option("#filter-group", "diabetes")
    page.locator("#roster li.empty", has_text="没有找到符合条件的居民").wait_for()
    page.select_option("#filter-group", "")
    from backend.models.facility import Facility
    page.select_option("#filter-village", Facility.get(VILLAGE).name)
    page.locator("#roster li", has_text=people[0].name).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path="/tmp/offline-roster-filters-360.png")

    phone.set_offline(True)
    page.locator("#sync-net", has_text="离线").wait_for()
    for i, p in enumerate(people):
        record_followup(page, p, 132 + i, 82)
    # An impossible reading is refused on the phone by the same rules data: nothing queued.
    open_resident(page, people[1])
    form = page.locator("#day-followup")
    form.locator('input[name="systolic"]').fill("400")
    form.locator('input[name="diastolic"]').fill("90")
    form.locator('button[type="submit"]').click()
    form.locator(".msg.error", has_text="不可能").wait_for()
    # The 70-year-old's yearly self-care assessment: 进餐 轻度依赖 0 + 梳洗 中度依赖 3 = 3.
    open_resident(page, people[0])
    elder = page.locator("#day-elder")
    elder.locator('select[name="grooming"]').select_option("3")
    assert "3 分" in elder.locator("#self-care-total").inner_text()
    elder.locator('button[type="submit"]').click()
    page.locator("#sync-msg", has_text="自理能力 3 分").wait_for()
    assert wait_pending(page, 4) == "待上传 4 条"
    page.screenshot(path="/tmp/offline-day-resident-360.png", full_page=True)

    page.reload()  # offline: the worker serves the shell, the outbox is in IndexedDB
    page.locator("#sync-pending", has_text="待上传 4 条").wait_for()
    page.close()  # the tab is killed
    page = phone.new_page()
    page.goto(f"{live_server}/team/patients/{people[2].resident_id}")  # a doctor's link, offline
    page.locator("#resident-name", has_text=people[2].name).wait_for()
    page.locator("#sync-pending", has_text="待上传 4 条").wait_for()
    assert stored(people) == (0, 0)

    # A new release arrives mid-day while the server cannot take records yet: the worker and
    # its caches are replaced, the outbox is not.
    def busy(*a, **k):
        from backend.errors import ServiceBusy
        raise ServiceBusy()
    monkeypatch.setattr(outbox, "receive", busy)
    phone.set_offline(False)
    page.locator("#sync-msg", has_text="系统繁忙").wait_for()
    monkeypatch.setattr(web, "release_id", lambda: "offline-next-1")
    monkeypatch.setattr(pages, "release_id", lambda: "offline-next-1")
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    page.wait_for_function("caches.keys().then(k => k.includes('cc-shell-offline-next-1') && k.length === 1)",
                           timeout=20000)
    page.goto(f"{live_server}/team/day")
    page.locator("#sync-pending", has_text="待上传 4 条").wait_for()
    assert stored(people) == (0, 0)

    monkeypatch.undo()
    page.click("#sync-now")
    page.locator("#sync-pending", has_text="待上传 0 条").wait_for()
    assert stored(people) == (3, 1)
    # The server's verdict replaces the phone's provisional one, visibly.
    verdicts = sorted(page.locator("#sent [data-verdict=server]").all_inner_texts())
    assert len(verdicts) == 4
    assert sum(v.startswith("服务器结论：控制满意") for v in verdicts) == 3  # 70 years old: < 150/90
    assert any(v.startswith("服务器结论：自理能力 3 分：可自理") for v in verdicts)

    # The same batch uploaded again: every record answered "already stored", still 4.
    answers = page.evaluate("""async () => {
      const who = await (await fetch('/api/sync/whoami')).json();
      const { offlineDb } = await import('/static/js/offline/db.js');
      const sent = await (await offlineDb()).getAllFromIndex('sent', 'by-owner', who.owner);
      const records = sent.map(r => ({ id: r.id, kind: r.kind, resident_id: r.resident_id, made_at: r.made_at, data: r.data }));
      const resp = await fetch('/api/sync/records', { method: 'POST', headers: { 'Content-Type': 'application/json',
        'X-CSRF-Token': who.csrf_token }, body: JSON.stringify({ device_id: 'dev-replay-0001', records }) });
      return (await resp.json()).results.map(r => r.status);
    }""")
    assert sorted(answers) == ["already_stored"] * 4
    assert stored(people) == (3, 1)
    page.evaluate("location.hash = ''")
    page.screenshot(path="/tmp/offline-day-home-360.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_second_person_on_the_phone_never_sees_or_sends_the_first_ones_records(
        phone, live_server):
    first = patients(1)[0]
    page = phone.new_page()
    login_staff(page, live_server, "doctor08")
    open_day(page, live_server)
    phone.set_offline(True)
    page.locator("#sync-net", has_text="离线").wait_for()
    record_followup(page, first, 150, 95)
    assert wait_pending(page, 1) == "待上传 1 条"
    # Logging out with a record not uploaded is refused, with a warning.
    page.click("#logout-form button")
    page.locator("#logout-refused", has_text="没有上传").wait_for()
    # The session ends (expired) before the signal returns; someone else logs in.
    phone.clear_cookies()
    phone.set_offline(False)
    page.reload()
    page.locator("#sync-msg", has_text="登录已过期").wait_for()
    assert wait_pending(page, 1) == "待上传 1 条"  # kept for its owner
    login_staff(page, live_server, "nurse08")
    page.goto(f"{live_server}/team/day")
    page.locator("#sync-last", has_text="上次同步").wait_for()
    assert pending(page) == "待上传 0 条"  # the doctor's count never shows for the nurse
    assert page.locator("#outbox [data-record]").count() == 0
    assert list(FollowUp.query(first.resident_id)) == []  # not uploaded under the nurse's name
    # The nurse has nothing pending: logging out is allowed and removes her residents' data.
    page.click("#logout-form button")
    page.wait_for_url(f"{live_server}/")
    left = page.evaluate("""async ([nurse, doctor]) => {
      const { byOwner } = await import('/static/js/offline/db.js');
      return { nurse: (await byOwner('residents', nurse)).length, doctor: (await byOwner('outbox', doctor)).length };
    }""", [owner_key("s:nurse08"), owner_key("s:doctor08")])
    assert left == {"nurse": 0, "doctor": 1}
    # The doctor logs in again: her record goes up, once.
    login_staff(page, live_server, "doctor08")
    page.goto(f"{live_server}/team/day")
    # The record goes up once the page has synced: wait for the upload.
    for _ in range(80):
        stored_now = list(FollowUp.query(first.resident_id))
        if stored_now:
            break
        page.wait_for_timeout(250)
    assert len(stored_now) == 1 and stored_now[0].recorded_by == "s:doctor08"
    assert wait_pending(page, 0) == "待上传 0 条"


def test_the_rules_case_table_gives_the_same_verdicts_in_chromium(phone, live_server):
    page = phone.new_page()
    page.goto(f"{live_server}/offline")
    failures = page.evaluate("""async (table) => {
      const m = await import('/static/js/offline/rules.js');
      const rules = await (await fetch(m.RULES_URL)).json();
      const bad = [];
      for (const c of table.cases) {
        const r = m.classify(rules, c.disease, c.readings, { age: c.age, visit: table.visit,
          previousUncontrolled: c.previous_uncontrolled });
        const want = c.expect;
        const same = r.outcome === want.outcome && r.refer === want.refer && r.urgent === want.urgent
          && r.next_due === want.next_due && (!want.reasons || JSON.stringify(r.reasons) === JSON.stringify(want.reasons));
        if (!same) bad.push([c.name, r]);
      }
      for (const c of table.impossible) {
        try { m.validateReadings(rules, c.readings, c.disease); bad.push([c.name, 'accepted']); }
        catch (err) { if (err.code !== c.code || !/[\\u4e00-\\u9fff]/.test(err.message)) bad.push([c.name, err.code]); }
      }
      for (const c of table.possible) {
        try { m.validateReadings(rules, c.readings, null); } catch (err) { bad.push([c.name, err.code]); }
      }
      return { bad, ran: table.cases.length + table.impossible.length + table.possible.length };
    }""", CASES)
    assert failures["bad"] == []
    assert failures["ran"] == len(CASES["cases"]) + len(CASES["impossible"]) + len(CASES["possible"])
