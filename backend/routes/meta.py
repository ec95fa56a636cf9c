"""The API's own description and a liveness check."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_file

from backend import api

bp = Blueprint("meta", __name__)


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(api.document(current_app))


@bp.get("/api/health")
def health():
    return jsonify(ok=True, release=current_app.config.get("RELEASE"))


@bp.get("/rules/followup.json")
def followup_rules():
    """The follow-up rules data, as the server reads it (the browser's offline rules)."""
    from backend.rules.followup import RULES_PATH
    return send_file(RULES_PATH, mimetype="application/json", max_age=300, etag=True)
