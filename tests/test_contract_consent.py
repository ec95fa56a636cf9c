"""Consent to a family-doctor contract is recorded (who witnessed, which text, the app
confirmation or the signed paper form) and the resident is told, through HTTP → moto."""
from __future__ import annotations

import pytest

from backend.models.care import Contract, ContractOffer
from backend.models.notices import Notice
from backend.models.people import ProxyGrant
from backend.models.base import utcnow
from backend.rules.contracts import CONSENT_VERSION
from tests.test_care_http import make_resident, post


@pytest.fixture(scope="module")
def doctor(app):
    from tests.conftest import Browserless
    d = Browserless(app, app.test_client())
    d.login_staff("doctor01")
    return d


def desk(resident_id, **consent):
    return {"resident_ids": [resident_id], "kind": "individual", "years": 1, "channel": "desk",
            **consent}


def notices_of(resident_id, kind):
    return [n for n in Notice.query(f"res:{resident_id}", consistent_read=True) if n.kind == kind]


@pytest.mark.parametrize("consent, code", [
    ({}, "paper_form_required"),
    ({"consent_version": CONSENT_VERSION}, "paper_form_required"),
    ({"paper_form_no": "#1", "consent_version": CONSENT_VERSION}, "invalid_form_no"),
    ({"paper_form_no": "QY-2026-0042", "consent_version": "2019-01"}, "consent_version_outdated"),
    ({"paper_form_no": "QY-2026-0042"}, "consent_version_outdated"),
])
def test_a_desk_contract_without_a_signed_form_of_this_text_is_refused(doctor, consent, code):
    r = make_resident()
    resp = post(doctor, "/api/contracts", desk(r.resident_id, **consent))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == code
    assert list(Contract.query(r.resident_id, consistent_read=True)) == []
    assert notices_of(r.resident_id, "contract_signed") == []


def test_a_desk_contract_records_form_witness_and_version_and_tells_the_resident(doctor):
    r = make_resident()
    resp = post(doctor, "/api/contracts", desk(r.resident_id, paper_form_no="qy-2026-0042",
                                               consent_version=CONSENT_VERSION))
    assert resp.status_code == 201, resp.get_json()
    [c] = list(Contract.query(r.resident_id, consistent_read=True))
    assert (c.consent_method, c.consent_form_no, c.consent_witness, c.consent_version) == \
        ("paper", "QY-2026-0042", "s:doctor01", CONSENT_VERSION)
    assert "自愿" in c.consent_text and c.signed_by == "s:doctor01"
    [notice] = notices_of(r.resident_id, "contract_signed")
    assert "QY-2026-0042" in notice.body and "解约" in notice.body and "周" in notice.body


def _resident_acting_for(person, demo):
    me = person.login_resident(demo.demo_resident["phone"])
    subject = make_resident()
    ProxyGrant(me["resident_id"], subject.resident_id, relation="子女", granted_at=utcnow()).save()
    return me, subject


def test_an_offer_made_at_the_desk_is_signed_only_when_confirmed_in_the_app(doctor, person, demo,
                                                                           app):
    me, subject = _resident_acting_for(person, demo)
    resp = post(doctor, "/api/contracts/offers", {"resident_ids": [subject.resident_id],
                                                  "kind": "individual", "years": 2})
    assert resp.status_code == 201, resp.get_json()
    offer_id = resp.get_json()["offer_id"]
    assert list(Contract.query(subject.resident_id, consistent_read=True)) == []
    [notice] = notices_of(subject.resident_id, "contract_offer")
    assert notice.url == f"/my-doctor?offer={offer_id}"

    # The notice's link opens the page that shows the text and the confirm button.
    page = person.client.get(notice.url).get_data(as_text=True)
    assert 'id="offer-form"' in page and "自愿" in page and subject.name in page

    # Nobody else can see or confirm it: the same answer as for an unknown offer.
    from tests.conftest import Browserless
    stranger = Browserless(app, app.test_client())
    other = next(r for r in demo.residents if r["phone"] and r["phone"] != demo.demo_resident["phone"])
    stranger.login_resident(other["phone"])
    for client in (stranger,):
        seen = client.client.get(f"/api/contracts/offers/{offer_id}")
        assert seen.status_code == 404 and seen.get_json()["error"]["code"] == "offer_not_found"
        taken = post(client, f"/api/contracts/offers/{offer_id}/confirm",
                     {"consent_version": CONSENT_VERSION})
        assert taken.get_json()["error"]["code"] == "offer_not_found"

    stale = post(person, f"/api/contracts/offers/{offer_id}/confirm", {"consent_version": "2019-01"})
    assert stale.get_json()["error"]["code"] == "consent_version_outdated"
    ok = post(person, f"/api/contracts/offers/{offer_id}/confirm",
              {"consent_version": CONSENT_VERSION})
    assert ok.status_code == 201, ok.get_json()
    [c] = list(Contract.query(subject.resident_id, consistent_read=True))
    assert (c.consent_method, c.consent_witness, c.consent_confirmed_by, c.offer_id) == \
        ("app", "s:doctor01", f"res:{me['resident_id']}", offer_id)
    assert int(c.years) == 2 and c.team_id == "team-01"
    assert ContractOffer.get(offer_id).status == "accepted"
    assert len(notices_of(subject.resident_id, "contract_signed")) == 1
    again = post(person, f"/api/contracts/offers/{offer_id}/confirm",
                 {"consent_version": CONSENT_VERSION})
    assert again.status_code == 404
    assert len(list(Contract.query(subject.resident_id, consistent_read=True))) == 1
