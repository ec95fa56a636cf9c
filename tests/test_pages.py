"""The PWA shell served by Flask: manifest, service worker, offline page, elder mode."""
from __future__ import annotations

import re


def test_manifest_is_chinese_and_installable(client):
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200 and r.mimetype == "application/manifest+json"
    m = r.get_json(force=True)
    assert m["name"] == "县域基层健康服务" and m["lang"] == "zh-CN"
    assert m["display"] == "standalone" and m["start_url"].startswith("/")
    purposes = {i["purpose"] for i in m["icons"]}
    assert "maskable" in purposes
    sizes = {i["sizes"] for i in m["icons"] if i["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in m["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_service_worker_precaches_a_versioned_shell(client, app):
    r = client.get("/sw.js")
    assert r.status_code == 200 and "javascript" in r.content_type
    assert r.headers["Cache-Control"] == "no-cache"
    body = r.get_data(as_text=True)
    release = app.config["RELEASE"]
    assert f'const RELEASE = "{release}"' in body
    precache = re.search(r"const PRECACHE = (\[.*?\]);", body).group(1)
    assert "/offline" in precache and f"v={release}" in precache
    for url in re.findall(r'"(/[^"]+)"', precache):
        assert client.get(url).status_code == 200, url


def test_release_id_changes_when_the_front_end_changes(tmp_path, monkeypatch):
    from backend import web
    web.release_id.cache_clear()
    before = web.release_id()
    static = tmp_path / "static"
    static.mkdir()
    (static / "x.css").write_text("a{}")
    monkeypatch.setattr(web, "STATIC", static)
    web.release_id.cache_clear()
    after = web.release_id()
    monkeypatch.undo()
    web.release_id.cache_clear()
    assert before != after and web.release_id() == before


def test_offline_page_is_chinese(client):
    r = client.get("/offline")
    assert r.status_code == 200 and "当前没有网络" in r.get_data(as_text=True)


def test_elder_mode_form_sets_a_device_cookie_without_javascript(client):
    html = client.get("/settings").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = client.post("/settings/elder-mode", data={"on": "1", "csrf_token": token})
    assert r.status_code == 303
    assert 'class="elder"' in client.get("/").get_data(as_text=True)
    client.post("/settings/elder-mode", data={"on": "0", "csrf_token": token})
    assert 'class="elder"' not in client.get("/").get_data(as_text=True)


def test_elder_mode_redirect_stays_on_site(client):
    html = client.get("/settings").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = client.post("/settings/elder-mode", data={"on": "1", "csrf_token": token,
                                                  "next": "//evil.example/"})
    assert r.status_code == 303 and r.location.endswith("/settings")


def test_pages_use_system_fonts_only(client):
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert "@font-face" not in css and "PingFang SC" in css
