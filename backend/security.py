"""Who is asking: session cookies, CSRF, role checks and security headers."""
from __future__ import annotations

import hmac
import secrets
from functools import wraps
from typing import Callable

from flask import Flask, Response, current_app, g, request

from backend.errors import CsrfFailed, Forbidden, NotAuthenticated
from backend.services import auth

__all__ = ["current_user", "require", "install", "set_session_cookie", "clear_session_cookie",
           "client_address", "csrf_token"]

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# The areas whose routes answer with residents' health data: a 403/404 there is a refused
# attempt, recorded in the audit trail (the person's id from the URL, else the route).
HEALTH_DATA_BLUEPRINTS = frozenset({"residents", "care", "vaccination", "registry", "sync"})
_SUBJECT_ARGS = ("resident_id", "child_id", "household_id")
# Anonymous forms (login) use a double-submit cookie; signed-in users a per-session token.
ANON_CSRF_COOKIE = "cc_csrf"


def _cookie_name() -> str:
    # The __Host- prefix pins the cookie to this host, path / and HTTPS.
    return "__Host-cc_session" if current_app.config["COUNTYCARE"].secure_cookies else "cc_session"


def current_user() -> auth.CurrentUser | None:
    """The signed-in user, loaded once per request (one GetItem)."""
    if "user" not in g:
        token = request.cookies.get(_cookie_name())
        g.user = None
        g.session_expired = False
        if token:
            try:
                g.user = auth.load_session(current_app.config["COUNTYCARE"], token)
            except NotAuthenticated as err:
                g.session_expired = err.code == "session_expired"
    return g.user


def require(*roles: str) -> Callable:
    """Route decorator: a signed-in user with one of `roles` (any role if none given)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                if g.get("session_expired"):
                    raise NotAuthenticated("登录已过期，请重新登录", code="session_expired")
                raise NotAuthenticated()
            if roles and user.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # read by the OpenAPI document and the route audit test
        return wrapper

    return decorate


def csrf_token() -> str:
    """The token a page embeds in its forms and the `csrf-token` meta tag."""
    user = current_user()
    if user is not None:
        return user.csrf_token
    if "anon_csrf" not in g:
        g.anon_csrf = request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(32)
    return g.anon_csrf


def _check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    user = current_user()
    expected = user.csrf_token if user is not None else request.cookies.get(ANON_CSRF_COOKIE, "")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise CsrfFailed()


def client_address() -> str:
    """The address the platform vouches for, never one a client can write.

    On Lambda, Zappa puts API Gateway's event in the environ (`lambda.event`): its
    `requestContext` carries the source address API Gateway saw (REST: `identity.sourceIp`,
    HTTP API: `http.sourceIp`). Zappa's own REMOTE_ADDR is taken from X-Forwarded-For,
    which the caller writes, so it is not used there. Locally REMOTE_ADDR is the socket's
    peer. No header is ever read.
    """
    event = request.environ.get("lambda.event")
    if isinstance(event, dict):
        context = event.get("requestContext") or {}
        source = ((context.get("identity") or {}).get("sourceIp")
                  or (context.get("http") or {}).get("sourceIp"))
        return str(source or "unknown")[:64]
    return (request.environ.get("REMOTE_ADDR") or "unknown")[:64]


def set_session_cookie(resp: Response, token: str) -> None:
    cfg = current_app.config["COUNTYCARE"]
    resp.set_cookie(_cookie_name(), token, max_age=cfg.session_absolute_seconds, httponly=True,
                    secure=cfg.secure_cookies, samesite="Lax", path="/")


def clear_session_cookie(resp: Response) -> None:
    cfg = current_app.config["COUNTYCARE"]
    resp.delete_cookie(_cookie_name(), httponly=True, secure=cfg.secure_cookies, samesite="Lax",
                       path="/")


def _audit_refusal(resp: Response) -> None:
    """One audit event (outcome refused) for a signed-in user's 403/404 on health data."""
    if resp.status_code not in (403, 404) or request.blueprint not in HEALTH_DATA_BLUEPRINTS:
        return
    user = current_user()
    if user is None:
        return
    from backend.services import audit
    args = request.view_args or {}
    subject = next((str(args[k]) for k in _SUBJECT_ARGS if args.get(k)), f"route#{request.endpoint}")
    audit.refused(user, subject_id=subject[:64], what=str(request.endpoint),
                  code=g.get("error_code") or str(resp.status_code))


def install(app: Flask) -> None:
    @app.before_request
    def _csrf():
        if request.endpoint not in app.config.get("CSRF_EXEMPT", set()):
            _check_csrf()

    @app.after_request
    def _refusals(resp: Response) -> Response:
        _audit_refusal(resp)
        return resp

    @app.after_request
    def _headers(resp: Response) -> Response:
        cfg = app.config["COUNTYCARE"]
        if "anon_csrf" in g and request.cookies.get(ANON_CSRF_COOKIE) != g.anon_csrf:
            resp.set_cookie(ANON_CSRF_COOKIE, g.anon_csrf, httponly=True,
                            secure=cfg.secure_cookies, samesite="Strict", path="/")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if cfg.secure_cookies:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if g.get("user") is not None and "Cache-Control" not in resp.headers:
            # Personal pages never sit in a shared cache.
            resp.headers["Cache-Control"] = "private, no-store"
        return resp
