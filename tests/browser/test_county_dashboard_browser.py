"""Chromium at 360 px: the county dashboard reads on a phone, drills down to a village
clinic and stops there; an export shows its progress and ends in a download link."""
from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import PHONE, login_staff

SHOTS = Path(__file__).resolve().parent.parent.parent / "build" / "screenshots"


def test_county_dashboard_on_a_phone_drills_down_to_a_village_and_exports(browser, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        login_staff(page, live_server, "county")
        page.click("text=指标看板")
        page.wait_for_selector("#figures")
        assert page.locator("#figures .figure").count() == 16
        assert "截至" in page.inner_text("#as-of")
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.locator("svg.chart").count() >= 5
        page.screenshot(path=str(SHOTS / "county-dashboard-360.png"), full_page=True)
        page.screenshot(path=str(SHOTS / "county-dashboard-top-360.png"))
        page.locator("figure.chart-card >> nth=0").screenshot(path=str(SHOTS / "county-trend-360.png"))
        page.locator("figure.chart-card >> nth=5").screenshot(path=str(SHOTS / "county-children-360.png"))

        # Other tests add centres of their own (shared database): open a seeded one.
        page.click("#children a:has-text('乌兰镇卫生院')")
        page.wait_for_selector("nav.crumbs a")
        assert "各村卫生室" in page.inner_text("main")
        page.click("#children a >> nth=0")
        page.wait_for_selector("text=村卫生室是看板的最低一级")
        assert page.locator("#children").count() == 0
        page.screenshot(path=str(SHOTS / "county-village-360.png"), full_page=True)

        page.goto(f"{live_server}/county")
        page.select_option("#export-kind", "activity")
        page.click("#exports button[type=submit]")
        page.wait_for_selector("#export-download", timeout=30_000)
        assert ".xlsx" in page.inner_text("#export-download")
        page.screenshot(path=str(SHOTS / "county-export-360.png"), full_page=True)
    finally:
        context.close()
