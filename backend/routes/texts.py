"""Text messages: the providers' delivery-receipt callback, and the county's daily budget."""
from __future__ import annotations

import hmac
from datetime import timezone

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError, Forbidden, ValidationFailed
from backend.models.base import utcnow
from backend.rules import texts as rules
from backend.security import current_user, require
from backend.services import ladder

bp = Blueprint("texts", __name__)

PROVIDERS = ("alibaba", "tencent")


@bp.record_once
def _exempt(state):
    # Called by the provider, which has no session: authenticated by the URL's secret.
    state.app.config.setdefault("CSRF_EXEMPT", set()).add("texts.receipts")


class ReceiptsOut(api.Schema):
    recorded: int
    unknown: int
    repeated: int


class BudgetIn(api.Schema):
    daily_limit: int = Field(ge=0, le=1_000_000, description="全旗每天最多发送的短信条数")
    per_person: int = Field(ge=0, le=20, description="每人每天最多收到的短信条数")


class BudgetOut(api.Schema):
    day: str
    daily_limit: int
    per_person: int
    sent: int
    skipped: int


@bp.post("/api/sms/receipts/<provider>/<token>")
@api.describe(summary="短信服务商的送达回执（回调地址含密钥）", response=ReceiptsOut, tags=["短信"])
def receipts(provider: str, token: str):
    """Alibaba's SmsReport and Tencent's status callback are not signed by the provider, so
    the callback URL configured in its console carries our secret; anything else is refused
    before the body is read."""
    expected = current_app.config["COUNTYCARE"].sms_callback_token
    if provider not in PROVIDERS or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("回执来源无法验证", code="invalid_callback_token")
    try:
        parsed = rules.parse_receipts(provider, request.get_json(silent=True, force=True))
    except ValueError:
        raise ValidationFailed("回执格式不正确", code="invalid_receipts") from None
    now = utcnow()
    counts = ladder.record_receipts(provider, [
        ladder.Receipt(mid, ok, code, (at.astimezone(timezone.utc) if at else now))
        for mid, ok, code, at in parsed])
    # Each provider checks its own reply shape (a failed reply makes it push again).
    body = {"code": 0, "msg": "接收成功"} if provider == "alibaba" else {"result": 0, "errmsg": "OK"}
    return jsonify({**body, **counts})


def _county(user) -> str:
    if user.role != "county" or not user.facility_id:
        raise Forbidden()
    return user.facility_id


def _today() -> str:
    from zoneinfo import ZoneInfo
    return utcnow().astimezone(ZoneInfo(current_app.config["COUNTYCARE"].timezone)).date().isoformat()


def _budget(county: str) -> dict:
    limit, per_person = ladder.budget_for(county)
    day = _today()
    return {"day": day, "daily_limit": limit, "per_person": per_person, **ladder.county_day(county, day)}


@bp.get("/api/county/texts")
@require("county")
@api.describe(summary="今日短信用量、因额度未发送的条数和每日额度", response=BudgetOut, tags=["短信"])
def api_budget():
    return jsonify(_budget(_county(current_user())))


@bp.post("/api/county/texts/budget")
@require("county")
@api.body(BudgetIn, summary="设置全旗每日短信额度和每人每日上限", response=BudgetOut, tags=["短信"])
def api_set_budget(data: BudgetIn):
    county = _county(current_user())
    ladder.set_budget(current_user(), county, data.daily_limit, data.per_person)
    return jsonify(_budget(county))


@bp.get("/county/texts")
@require("county")
def budget_page():
    return render_template("county_texts.html", b=_budget(_county(current_user())),
                           saved=request.args.get("saved"))


@bp.post("/county/texts")
@require("county")
def budget_form():
    county = _county(current_user())
    try:
        data = api.parse(BudgetIn, {"daily_limit": request.form.get("daily_limit", ""),
                                    "per_person": request.form.get("per_person", "")})
    except AppError as err:
        return make_response(render_template("county_texts.html", b=_budget(county),
                                             error="请填写0以上的整数（每人每天最多20条）"), err.status)
    ladder.set_budget(current_user(), county, data.daily_limit, data.per_person)
    return redirect(url_for("texts.budget_page", saved="1"), code=303)
