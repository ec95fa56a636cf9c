"""Signing in and out: forms for people, JSON for the app, same services behind both."""
from __future__ import annotations

from flask import (Blueprint, current_app, jsonify, make_response, redirect, render_template,
                   request, url_for)
from pydantic import Field

from backend import api
from backend.errors import AppError
from backend.security import (clear_session_cookie, client_address, current_user, require,
                              set_session_cookie)
from backend.services import auth, notify, push

bp = Blueprint("auth", __name__)

PHONE = r"^1[3-9]\d{9}$"


class CodeRequest(api.Schema):
    phone: str = Field(pattern=PHONE, description="11位手机号")


class ResidentLogin(api.Schema):
    phone: str = Field(pattern=PHONE)
    code: str = Field(pattern=r"^\d{6}$", description="6位验证码")


class StaffLogin(api.Schema):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(api.Schema):
    role: str
    display_name: str
    resident_id: str | None = None
    facility_id: str | None = None
    team_id: str | None = None
    csrf_token: str


class Ok(api.Schema):
    ok: bool


class CodeSent(api.Schema):
    ok: bool
    message: str = Field(description="给用户看的说明（已登记与未登记的号码答复完全相同）")
    register_url: str = Field(description="申请登记的页面")


# One answer for every number, registered or not: the answer must not tell them apart.
CODE_SENT = ("如该手机号已登记，验证码已发送，5分钟内有效。手机号还没有登记的收不到验证码："
             "请先申请登记，或到村卫生室、乡镇卫生院登记。")


def _cfg():
    return current_app.config["COUNTYCARE"]


def _sender():
    return current_app.extensions["code_sender"]


def _end_session(user, resp, *device_ids: str):
    """Sign out, and stop pushing to this device: nothing personal keeps arriving on a
    shared phone. The device is named by the cookie set when it subscribed (and, from the
    page script, by the form's `push_device`); only the user's own rows are removed."""
    auth.end_session(user.session_hash)
    push.forget_on_logout(notify.recipient_for(user),
                          [request.cookies.get(push.DEVICE_COOKIE, ""), *device_ids])
    clear_session_cookie(resp)
    cfg = _cfg()
    resp.delete_cookie(push.DEVICE_COOKIE, httponly=True, secure=cfg.secure_cookies,
                       samesite="Lax", path="/")
    return resp


def _start_session(account, resp, phone: str | None = None):
    cfg = _cfg()
    token, _ = auth.create_session(cfg, account)
    set_session_cookie(resp, token)
    if phone:
        # This browser is now one its owner logged in from: it gets its own code limits,
        # so guesses and requests for the number from elsewhere cannot lock it out.
        resp.set_cookie(auth.DEVICE_COOKIE,
                        auth.device_cookie(cfg, phone, request.cookies.get(auth.DEVICE_COOKIE)),
                        max_age=cfg.login_device_days * 86400, httponly=True,
                        secure=cfg.secure_cookies, samesite="Lax", path="/")
    return resp


def _device() -> str | None:
    return request.cookies.get(auth.DEVICE_COOKIE)


# ---- JSON ----------------------------------------------------------------------------

@bp.post("/api/auth/code")
@api.body(CodeRequest, summary="发送登录验证码", response=CodeSent, tags=["登录"])
def api_request_code(data: CodeRequest):
    auth.request_code(_cfg(), _sender(), data.phone, client_address(), _device())
    return jsonify(ok=True, message=CODE_SENT, register_url=url_for("registration.register_page"))


@bp.post("/api/auth/login")
@api.body(ResidentLogin, summary="居民验证码登录", response=Me, tags=["登录"])
def api_resident_login(data: ResidentLogin):
    account = auth.resident_login(_cfg(), data.phone, data.code, client_address(), _device())
    return _start_session(account, jsonify(role=account.role, display_name=account.display_name),
                          data.phone)


@bp.post("/api/auth/staff-login")
@api.body(StaffLogin, summary="医务人员密码登录", response=Me, tags=["登录"])
def api_staff_login(data: StaffLogin):
    account = auth.staff_login(_cfg(), data.username, data.password, client_address())
    return _start_session(account, jsonify(role=account.role, display_name=account.display_name))


@bp.post("/api/auth/logout")
@require()
@api.describe(summary="退出登录", response=Ok, tags=["登录"])
def api_logout():
    return _end_session(current_user(), jsonify(ok=True))


@bp.get("/api/me")
@require()
@api.describe(summary="当前用户", response=Me, tags=["登录"])
def api_me():
    u = current_user()
    return jsonify(role=u.role, display_name=u.display_name, resident_id=u.resident_id,
                   facility_id=u.facility_id, team_id=u.team_id, csrf_token=u.csrf_token)


# ---- Pages ---------------------------------------------------------------------------

@bp.get("/login")
def login_page():
    return render_template("login.html", tab=request.args.get("tab", "resident"))


def _form_error(err: AppError, tab: str, phone: str = ""):
    resp = make_response(render_template("login.html", tab=tab, phone=phone[:11],
                                         error=err.message), err.status)
    if err.retry_after:
        resp.headers["Retry-After"] = str(err.retry_after)
    return resp


@bp.post("/login/code")
def login_code_form():
    phone = request.form.get("phone", "").strip()
    try:
        auth.request_code(_cfg(), _sender(), phone, client_address(), _device())
    except AppError as err:
        return _form_error(err, "resident", phone)
    # Rendered, not redirected: a phone number never goes into a URL (URLs end up in logs).
    return render_template("login.html", tab="resident", phone=phone, info=CODE_SENT)


@bp.post("/login/resident")
def login_resident_form():
    phone = request.form.get("phone", "").strip()
    code = request.form.get("code", "").strip()
    try:
        account = auth.resident_login(_cfg(), phone, code, client_address(), _device())
    except AppError as err:
        return _form_error(err, "resident", phone)
    return _start_session(account, redirect(url_for("pages.home"), code=303), phone)


@bp.post("/login/staff")
def login_staff_form():
    try:
        account = auth.staff_login(_cfg(), request.form.get("username", ""),
                                   request.form.get("password", ""), client_address())
    except AppError as err:
        return _form_error(err, "staff")
    return _start_session(account, redirect(url_for("pages.home"), code=303))


@bp.post("/logout")
def logout_form():
    user = current_user()
    resp = redirect(url_for("pages.home"), code=303)
    if user is None:
        clear_session_cookie(resp)
        return resp
    return _end_session(user, resp, request.form.get("push_device", "")[:64])
