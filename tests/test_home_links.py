"""Every link a person sees on the home page leads somewhere (no dead tiles)."""
import re

import pytest


@pytest.mark.parametrize("who", ["anonymous", "resident", "doctor01", "admin-twp-01",
                                 "admin-hospital", "county"])
def test_every_home_link_opens(app, who):
    from tests.conftest import Browserless
    client = app.test_client()
    person = Browserless(app, client)
    if who == "resident":
        person.login_resident(app.config["DEMO"].demo_resident["phone"])
    elif who != "anonymous":
        person.login_staff(who)
    html = client.get("/").get_data(as_text=True)
    links = set(re.findall(r'href="(/[^"]*)"', html)) - {"/manifest.webmanifest"}
    assert links
    for link in links:
        if link.startswith("/static/"):
            continue
        r = client.get(link)
        assert r.status_code == 200, (who, link, r.status_code)
