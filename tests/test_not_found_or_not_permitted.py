"""Probing sequential resident ids teaches staff without a relation nothing: an unknown id
and somebody else's resident get one answer, with no name and no contract state."""
from __future__ import annotations

import pytest

from tests.test_care_http import DESK_CONSENT, post

CODE = "not_found_or_not_permitted"


@pytest.fixture(scope="module")
def prober(app):
    """doctor03 (team-03, twp-02): no relation to the residents of twp-01."""
    from tests.conftest import Browserless
    d = Browserless(app, app.test_client())
    d.login_staff("doctor03")
    return d


def _probes(rid: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", f"/api/residents/{rid}", None),
        ("get", f"/api/care/residents/{rid}/followups", None),
        ("get", f"/api/care/residents/{rid}/card", None),
        ("get", f"/api/contracts/{rid}", None),
        ("post", f"/api/contracts/{rid}/end", {"reason": "探测解约"}),
        ("post", f"/api/contracts/{rid}/renew", {"years": 1, **DESK_CONSENT}),
        ("post", f"/api/care/residents/{rid}/contacts", {"channel": "phone"}),
        ("post", "/api/contracts", {"resident_ids": [rid], "kind": "individual", "years": 1,
                                    "channel": "desk", **DESK_CONSENT}),
        ("post", "/api/contracts/offers", {"resident_ids": [rid], "kind": "individual",
                                           "years": 1}),
    ]


def _answer(prober, method, path, body):
    resp = post(prober, path, body) if method == "post" else prober.client.get(path)
    return resp.status_code, resp.get_json()


def test_sequential_ids_of_other_teams_answer_like_unknown_ids(prober, demo):
    strangers = [r for r in demo.residents[:40] if r["team_id"] != "team-03"
                 and r["township_id"] != "twp-02"]
    assert len(strangers) >= 10 and any(r["team_id"] for r in strangers)  # contracted and not
    unknown = {path.replace("res-999998", "X"): _answer(prober, m, path, b)
               for m, path, b in _probes("res-999998")}
    for status, body in unknown.values():
        assert status == 404 and body["error"]["code"] == CODE, body
    for r in strangers:
        for method, path, body in _probes(r["resident_id"]):
            status, answer = _answer(prober, method, path, body)
            assert (status, answer) == unknown[path.replace(r["resident_id"], "X")], path
            assert r["name"] not in str(answer)


def test_the_page_of_someone_elses_patient_says_only_not_found_or_not_permitted(prober, demo):
    r = next(r for r in demo.residents if r["team_id"] not in (None, "team-03"))
    page = prober.client.get(f"/team/patients/{r['resident_id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 404 and "找不到该居民，或您无权查看" in text
    section = text.split('id="error"')[1].split("</section>")[0]
    assert r["name"] not in text and "签约" not in section
