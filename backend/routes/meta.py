"""The API's own description and a liveness check."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from backend import api

bp = Blueprint("meta", __name__)


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(api.document(current_app))


@bp.get("/api/health")
def health():
    return jsonify(ok=True, release=current_app.config.get("RELEASE"))
