"""Page helpers shared by every template: release id, asset URLs, elder mode, CSRF."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, request, url_for

from backend.rules.identity import mask_identity_number, mask_mobile

__all__ = ["install", "release_id", "ELDER_COOKIE", "SHELL_ASSETS", "OFFLINE_MODULES", "cn_day"]

WEEKDAYS = "一二三四五六日"


def cn_day(value) -> str:
    """An ISO date (or date) as people read it: 12月3日 周四 (the year only if not this one)."""
    from datetime import date

    from backend.services.schedules import today
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    year = f"{day.year}年" if day.year != today().year else ""
    return f"{year}{day.month}月{day.day}日 周{WEEKDAYS[day.weekday()]}"

ELDER_COOKIE = "cc_elder"
STATIC = Path(__file__).resolve().parent.parent / "frontend" / "static"
TEMPLATES = Path(__file__).resolve().parent.parent / "frontend" / "templates"

# What the service worker precaches: the offline shell and everything it needs.
SHELL_ASSETS = (
    "css/app.css",
    "js/app.js",
    "icons/icon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/maskable-512.png",
    "manifest.webmanifest",
)
# The doctor's offline workspace: ES modules precached by their plain URLs.
OFFLINE_MODULES = (
    "vendor/idb-8.0.4.js",
    "js/offline/db.js",
    "js/offline/outbox.js",
    "js/offline/sync.js",
    "js/offline/rules.js",
    "js/offline/day.js",
)


@lru_cache(maxsize=1)
def release_id() -> str:
    """A short hash of the shipped front end: a new release gets a new cache name."""
    digest = hashlib.sha256()
    for folder in (STATIC, TEMPLATES):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(folder).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def asset(path: str) -> str:
    return url_for("static", filename=path, v=release_id())


def _offline_owner() -> str:
    """The signed-in doctor's partition of the phone's offline data (routes.sync)."""
    from backend.routes.sync import owner_key
    from backend.security import current_user
    return owner_key(current_user().login)


def install(app: Flask) -> None:
    from backend.security import csrf_token, current_user

    app.config["RELEASE"] = release_id()
    app.add_template_filter(cn_day, "day")

    @app.context_processor
    def _globals():
        return {
            "current_user": current_user,
            "csrf_token": csrf_token,
            "asset": asset,
            "release": release_id(),
            "elder_mode": request.cookies.get(ELDER_COOKIE) == "1",
            "mask_id": mask_identity_number,
            "mask_phone": mask_mobile,
            "offline_owner": _offline_owner,
            "place": _place,
        }


def _place(facility_id: str | None) -> str:
    """A village or facility by name in a template (never its id)."""
    from backend.services.places import name_of
    return name_of(facility_id)
