"""The app shell: home page, offline page, service worker, manifest, device settings."""
from __future__ import annotations

from flask import (Blueprint, current_app, make_response, redirect, render_template, request,
                   send_from_directory, url_for)

from backend.forms import safe_next
from backend.security import current_user
from backend.services import residents
from backend.web import ELDER_COOKIE, OFFLINE_MODULES, SHELL_ASSETS, STATIC, asset, release_id

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    user = current_user()
    if user is None:
        return render_template("welcome.html")
    people = residents.people_i_act_for(user) if user.role == "resident" else []
    return render_template("home.html", user=user, people=people)


@bp.get("/offline")
def offline():
    return render_template("offline.html")


@bp.get("/sw.js")
def service_worker():
    # Served from the root so that its scope is the whole app; never cached by HTTP,
    # so a new release (new cache name inside) reaches phones on their next visit.
    # The doctor's day workspace and its modules are precached under their plain URLs
    # (ES modules import each other by those); a new release's cache fetches them afresh.
    precache = [url_for("pages.offline"), "/team/day", "/rules/followup.json"] + \
        [asset(p) for p in SHELL_ASSETS] + [f"/static/{p}" for p in OFFLINE_MODULES]
    module = request.args.get("classic") != "1"
    body = render_template("sw.js", release=release_id(), precache=precache,
                           offline_url=url_for("pages.offline"), day_url="/team/day",
                           rules_url="/rules/followup.json", stylesheet=asset("css/app.css"),
                           module=module, sync_module="/static/js/offline/sync.js")
    resp = make_response(body)
    resp.headers["Content-Type"] = "text/javascript; charset=utf-8"
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@bp.get("/manifest.webmanifest")
def manifest():
    resp = send_from_directory(STATIC, "manifest.webmanifest", max_age=3600)
    resp.headers["Content-Type"] = "application/manifest+json"
    return resp


@bp.get("/settings")
def settings():
    return render_template("settings.html")


@bp.post("/settings/elder-mode")
def elder_mode():
    """Elder mode without JavaScript: a form post that sets the per-device cookie."""
    on = request.form.get("on") == "1"
    resp = redirect(safe_next(request.form.get("next"), url_for("pages.settings")), code=303)
    resp.set_cookie(ELDER_COOKIE, "1" if on else "0", max_age=5 * 365 * 86400,
                    samesite="Lax", secure=current_app.config["COUNTYCARE"].secure_cookies)
    return resp
