"""The privacy notice, the user agreement, and (for residents) the separate health-data consent."""
from __future__ import annotations

from flask import Blueprint, render_template

from backend.rules import privacy as rules

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
def privacy_page():
    return render_template("legal/privacy.html", version=rules.PRIVACY_VERSION,
                           purposes=rules.PURPOSES, stops=rules.WITHDRAWAL_STOPS, keeps=rules.KEEPS)


@bp.get("/terms")
def terms_page():
    return render_template("legal/terms.html", version=rules.TERMS_VERSION)
