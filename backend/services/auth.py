"""Logging in and out: one-time codes for residents, passwords for staff, sessions."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pynamodb.exceptions import DoesNotExist, UpdateError
from werkzeug.security import check_password_hash, generate_password_hash

from backend.config import Config
from backend.errors import AppError, NotAuthenticated, RateLimited, ValidationFailed
from backend.models.account import Account, LoginCode, Session
from backend.models.base import utcnow
from backend.rules.identity import is_mobile
from backend.services import ratelimit
from backend.services.sms import CodeSender

__all__ = ["resident_login", "staff_login", "request_code", "verify_code", "create_session",
           "load_session", "end_session", "end_all_sessions", "hash_password", "CurrentUser",
           "staff_login_name", "resident_login_name"]

# A hash of a random password, checked when the account does not exist, so that the
# answer takes as long for an unknown user name as for a wrong password.
_DUMMY_HASH = None


@dataclass(frozen=True)
class CurrentUser:
    login: str
    role: str
    display_name: str
    resident_id: str | None
    facility_id: str | None
    team_id: str | None
    csrf_token: str
    session_hash: str


def resident_login_name(phone: str) -> str:
    return f"m:{phone}"


def staff_login_name(username: str) -> str:
    return f"s:{username.strip().lower()}"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def _digest(config: Config, value: str) -> str:
    return hmac.new(config.secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def request_code(config: Config, sender: CodeSender, phone: str, address: str) -> None:
    """Send a 6-digit code; at most N per number and M per address per hour."""
    if not is_mobile(phone):
        raise ValidationFailed("请输入正确的11位手机号", code="invalid_phone")
    limit, window = config.code_requests_per_phone
    ratelimit.hit("code-phone", ratelimit.subject_key(config.secret_key, phone), limit, window,
                  message="验证码发送太频繁，请稍后再试")
    limit, window = config.code_requests_per_address
    ratelimit.hit("code-addr", ratelimit.subject_key(config.secret_key, address), limit, window,
                  message="验证码发送太频繁，请稍后再试")
    code = f"{secrets.randbelow(10**6):06d}"
    LoginCode(_digest(config, phone), code_hash=_digest(config, f"{phone}:{code}"), attempts=0,
              used=False,
              expires_at=datetime.fromtimestamp(time.time() + config.login_code_ttl_seconds,
                                                tz=timezone.utc)).save()
    sender.send(phone, code)


def verify_code(config: Config, phone: str, code: str, address: str) -> None:
    """Accept a code once, before it expires, within the allowed number of attempts."""
    if not is_mobile(phone):
        raise ValidationFailed("请输入正确的11位手机号", code="invalid_phone")
    if not (code.isdigit() and len(code) == 6):
        raise ValidationFailed("验证码为6位数字", code="invalid_code")
    limit, window = config.logins_per_address
    ratelimit.hit("login-addr", ratelimit.subject_key(config.secret_key, address), limit, window)
    item = LoginCode(_digest(config, phone))
    now = datetime.now(timezone.utc)
    try:
        # One attempt counted atomically, whatever its outcome.
        item.update(
            actions=[LoginCode.attempts.add(1)],
            condition=(LoginCode.phone_hash.exists() & (LoginCode.used == False)  # noqa: E712
                       & (LoginCode.attempts < config.login_code_max_attempts)
                       & (LoginCode.expires_at > now)),
        )
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise AppError("验证码已失效，请重新获取", code="code_expired") from None
        raise
    expected = _digest(config, f"{phone}:{code}")
    if not hmac.compare_digest(item.code_hash, expected):
        raise AppError("验证码不正确", code="wrong_code")
    try:
        item.update(actions=[LoginCode.used.set(True)],
                    condition=(LoginCode.used == False) & (LoginCode.code_hash == expected))  # noqa: E712
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise AppError("验证码已失效，请重新获取", code="code_expired") from None
        raise


def resident_login(config: Config, phone: str, code: str, address: str) -> Account:
    verify_code(config, phone, code, address)
    try:
        account = Account.get(resident_login_name(phone))
    except DoesNotExist:
        raise AppError("该手机号尚未登记，请到村卫生室或乡镇卫生院登记", code="not_registered",
                       ) from None
    if account.disabled:
        raise AppError("该账号已停用，请联系卫生院", code="account_disabled")
    return account


def staff_login(config: Config, username: str, password: str, address: str) -> Account:
    global _DUMMY_HASH
    login = staff_login_name(username)
    limit, window = config.logins_per_address
    ratelimit.hit("login-addr", ratelimit.subject_key(config.secret_key, address), limit, window,
                  message="登录尝试太频繁，请稍后再试")
    limit, window = config.logins_per_account
    ratelimit.hit("login-acct", ratelimit.subject_key(config.secret_key, login), limit, window,
                  message="登录尝试太频繁，请稍后再试")
    try:
        account = Account.get(login)
    except DoesNotExist:
        account = None
    if account is None or not account.password_hash:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(16))
        check_password_hash(_DUMMY_HASH, password)
        raise AppError("用户名或密码不正确", code="wrong_password")
    if not check_password_hash(account.password_hash, password):
        raise AppError("用户名或密码不正确", code="wrong_password")
    if account.disabled:
        raise AppError("该账号已停用，请联系管理员", code="account_disabled")
    return account


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(config: Config, account: Account) -> tuple[str, str]:
    """A new session: returns (cookie token, CSRF token). 256 bits each."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = time.time()
    Session(_token_hash(token), login=account.login, role=account.role, csrf_token=csrf,
            display_name=account.display_name, resident_id=account.resident_id,
            facility_id=account.facility_id, created_at=utcnow(), idle_until=int(now + config.session_idle_seconds),
            expires_at=datetime.fromtimestamp(now + config.session_absolute_seconds,
                                              tz=timezone.utc),
            ).save(condition=Session.token_hash.does_not_exist())
    return token, csrf


def load_session(config: Config, token: str) -> CurrentUser:
    """The user behind a cookie, or NotAuthenticated if it is unknown, idle or too old.

    One GetItem: the session carries what a request needs of the account; disabling an
    account ends its sessions (`end_all_sessions`). A doctor's team is not cached: one more
    GetItem reads their current membership, so removal from a team takes effect at once.
    """
    if not token or len(token) > 100:
        raise NotAuthenticated()
    token_hash = _token_hash(token)
    try:
        session = Session.get(token_hash)
    except DoesNotExist:
        raise NotAuthenticated() from None
    now = time.time()
    if session.idle_until < now or session.expires_at.timestamp() < now:
        session.delete()
        raise NotAuthenticated("登录已过期，请重新登录", code="session_expired")
    # Slide the idle window, but write at most once a minute per session.
    if session.idle_until - now < config.session_idle_seconds - 60:
        session.update(actions=[Session.idle_until.set(int(now + config.session_idle_seconds))])
    facility_id, team_id = session.facility_id, None
    if session.role == "doctor":
        from backend.services.teams import membership_of
        membership = membership_of(session.login)
        if membership is not None:
            facility_id, team_id = membership.facility_id, membership.team_id
    return CurrentUser(login=session.login, role=session.role, display_name=session.display_name,
                       resident_id=session.resident_id, facility_id=facility_id,
                       team_id=team_id, csrf_token=session.csrf_token,
                       session_hash=token_hash)


def end_session(session_hash: str) -> None:
    Session(session_hash).delete()


def end_all_sessions(login: str) -> int:
    ended = 0
    for session in Session.by_login.query(login):
        session.delete()
        ended += 1
    return ended

