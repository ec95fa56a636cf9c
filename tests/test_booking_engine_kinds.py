"""Another kind of clinic books on the engine through its package API (the vaccine contract)."""
from __future__ import annotations

import pytest

from backend.errors import Conflict
from backend.models.booking import Booking, Slot
from backend.models.people import Uniqueness
from backend.services import booking
from tests.test_booking import World, rid


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def dose_is_due(user, resident, slot, purpose):
    if purpose == "dose:not-due":
        raise Conflict("该剂次尚未到接种时间", code="dose_not_due")
    return "乙肝疫苗第2剂"


@pytest.fixture(scope="module")
def vaccination_kind():
    kind = booking.register_kind(booking.SlotKind("vaccination-test", "预防接种",
                                                  charges_registration=False,
                                                  needs_purpose=True, check=dose_is_due))
    yield kind
    from backend.services import slot_kinds
    slot_kinds._KINDS.pop(kind.name, None)


def test_a_registered_kind_books_against_its_purpose_once(w, vaccination_kind):
    f = w.facility(departments=("预防接种门诊",))
    w.template(f, department="预防接种门诊", kind="vaccination-test", capacity=3, fee=0)
    s = w.slot(f, department="预防接种门诊")
    assert s.kind == "vaccination-test"
    child = w.resident(age=30)
    w.as_resident(child)
    missing = w.post("/api/bookings", {"slot_id": s.slot_id, "client_request_id": rid()})
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "purpose_required"
    refused = w.post("/api/bookings", {"slot_id": s.slot_id, "client_request_id": rid(),
                                       "purpose": "dose:not-due"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "dose_not_due"
    ok = w.post("/api/bookings", {"slot_id": s.slot_id, "client_request_id": rid(),
                                  "purpose": "dose:hepb-2"})
    assert ok.status_code == 201, ok.get_json()
    body = ok.get_json()["bookings"][0]
    assert body["purpose_label"] == "乙肝疫苗第2剂" and body["kind"] == "vaccination-test"
    stored = Booking.get(body["booking_id"], consistent_read=True)
    assert stored.purpose == "dose:hepb-2"
    # The same dose in another slice of the same day: refused by the purpose claim.
    other = w.slot(f, department="预防接种门诊", start="09:00")
    again = w.post("/api/bookings", {"slot_id": other.slot_id, "client_request_id": rid(),
                                     "purpose": "dose:hepb-2"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "purpose_booked"
    assert int(Slot.get(other.bucket, other.start_key, consistent_read=True).booked) == 0
    # Cancelling frees the purpose: the dose can be booked again.
    assert w.post(f"/api/bookings/{body['booking_id']}/cancel").status_code == 200
    with pytest.raises(Uniqueness.DoesNotExist):
        Uniqueness.get(f"purpose#{child.resident_id}#dose:hepb-2", consistent_read=True)
    rebooked = w.post("/api/bookings", {"slot_id": other.slot_id, "client_request_id": rid(),
                                        "purpose": "dose:hepb-2"})
    assert rebooked.status_code == 201, rebooked.get_json()


def test_an_unregistered_kind_is_refused_for_templates(w):
    f = w.facility()
    w.as_admin(f)
    r = w.post("/api/admin/templates", dict(department="全科门诊", kind="acupuncture",
                                            weekdays=[0], start="08:00", end="09:00",
                                            slice_minutes=30, capacity=2))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_kind"


def test_schedules_and_booking_do_not_import_each_other():
    import subprocess
    import sys
    code = ("import sys, backend.services.schedules; "
            "assert 'backend.services.booking' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import ast
    import pathlib
    pkg = pathlib.Path(booking.__file__).parent
    for path in pkg.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not any(n.endswith("services.schedules") for n in names), path.name
        assert len(path.read_text().splitlines()) <= 420, path.name
