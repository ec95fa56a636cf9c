"""Logging in and out: one-time codes for residents, passwords for staff, sessions."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from werkzeug.security import check_password_hash, generate_password_hash

from backend.config import Config
from backend.errors import AppError, NotAuthenticated, RateLimited, ValidationFailed
from backend.models.account import Account, LoginCode, Session
from backend.models.base import utcnow
from backend.rules.identity import is_mobile
from backend.services import guesses, ratelimit
from backend.services.sms import CodeSender

__all__ = ["resident_login", "staff_login", "request_code", "verify_code", "create_session",
           "load_session", "end_session", "end_all_sessions", "hash_password", "CurrentUser",
           "staff_login_name", "resident_login_name", "trusted_device", "device_cookie",
           "DEVICE_COOKIE"]

# A hash of a random password, checked when the account does not exist, so that the
# answer takes as long for an unknown user name as for a wrong password.
_DUMMY_HASH = None
# Marks a browser its owner logged in from with a code (`device_cookie`).
DEVICE_COOKIE = "cc_login_device"


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


def _is_registered(phone: str) -> bool:
    try:
        Account.get(resident_login_name(phone))
    except DoesNotExist:
        return False
    return True


def _device_mac(config: Config, phone: str, device_id: str) -> str:
    return _digest(config, f"device:{resident_login_name(phone)}:{device_id}")[:32]


def trusted_device(config: Config, phone: str, cookie: str | None) -> str | None:
    """The device id in a login-device cookie, if that phone logged in to `phone` before."""
    device_id, _, mac = (cookie or "")[:80].partition(".")
    if not (device_id and mac) or not hmac.compare_digest(mac, _device_mac(config, phone, device_id)):
        return None
    return device_id


def device_cookie(config: Config, phone: str, cookie: str | None) -> str:
    """The cookie that marks this browser as one the owner of `phone` logged in from."""
    device_id = trusted_device(config, phone, cookie) or secrets.token_urlsafe(16)
    return f"{device_id}.{_device_mac(config, phone, device_id)}"


def _code_subject(config: Config, phone: str, device_id: str | None) -> tuple[str, str]:
    """(kind, subject) of the limits for `phone`: its owner's known phone has its own."""
    if device_id:
        return "code-device", ratelimit.subject_key(config.secret_key, f"{device_id}:{phone}")
    return "code", ratelimit.subject_key(config.secret_key, phone)


def _add_code(config: Config, phone: str, code_hash: str) -> None:
    """Add a live code for `phone`, keeping the newest few: earlier ones stay valid."""
    key, now = _digest(config, phone), guesses.clock()
    expires = int(now + config.login_code_ttl_seconds)
    for _ in range(4):
        try:
            item = LoginCode.get(key, consistent_read=True)
        except DoesNotExist:
            item = None
        live = {h: int(e) for h, e in (item.codes.as_dict() if item and item.codes else {}).items()
                if e > now}
        newest = sorted(live, key=live.get, reverse=True)[:max(0, config.login_codes_live - 1)]
        codes = {h: live[h] for h in newest} | {code_hash: expires}
        condition = (LoginCode.phone_hash.does_not_exist() if item is None
                     else LoginCode.revision == item.revision)
        try:
            LoginCode(key, codes=codes, revision=(item.revision + 1 if item else 1),
                      expires_at=datetime.fromtimestamp(max(codes.values()), tz=timezone.utc),
                      ).save(condition=condition)
            return
        except PutError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
    raise RateLimited("验证码发送太频繁，请稍后再试", retry_after=1)


def request_code(config: Config, sender: CodeSender, phone: str, address: str,
                 device: str | None = None) -> None:
    """Send a 6-digit code to a registered number; the same answer for any other.

    Requests are limited gently (one a minute and a daily number per number, or per the
    owner's known phone) and only stop sending: codes already sent stay valid, and
    verification never looks at these counters. An unregistered number gets no text but
    the same limits, the same write and the same answer, so the answer confirms nothing.
    """
    if not is_mobile(phone):
        raise ValidationFailed("请输入正确的11位手机号", code="invalid_phone")
    kind, subject = _code_subject(config, phone, trusted_device(config, phone, device))
    limit, window = config.code_request_interval
    ratelimit.hit(f"{kind}-request-min", subject, limit, window,
                  message="验证码已发送，请稍等1分钟再重新获取")
    limit, window = config.code_requests_per_phone
    ratelimit.hit(f"{kind}-request-day", subject, limit, window,
                  message="该手机号今天获取验证码的次数已用完；已收到的验证码5分钟内仍可使用")
    limit, window = config.code_requests_per_address
    ratelimit.hit("code-addr", ratelimit.subject_key(config.secret_key, address), limit, window,
                  message="验证码发送太频繁，请稍后再试")
    if not _is_registered(phone):
        # A code nobody can know (not six digits), so guessing it behaves as for anyone.
        _add_code(config, phone, _digest(config, f"{phone}:unsent:{secrets.token_hex(16)}"))
        return
    code = f"{secrets.randbelow(10**6):06d}"
    _add_code(config, phone, _digest(config, f"{phone}:{code}"))
    sender.send(phone, code)


def _use_code(config: Config, phone: str, code: str) -> None:
    """Mark one live code used in one conditional update, or say why it cannot be."""
    key, expected = _digest(config, phone), _digest(config, f"{phone}:{code}")
    try:
        LoginCode(key).update(actions=[LoginCode.codes[expected].set(0)],
                              condition=LoginCode.codes[expected] > int(guesses.clock()))
        return
    except UpdateError as err:
        if err.cause_response_code != "ConditionalCheckFailedException":
            raise
    try:
        known = expected in (LoginCode.get(key).codes or MapAttribute()).as_dict()
    except DoesNotExist:
        known = False
    if known:  # used already, or too old
        raise AppError("验证码已失效，请重新获取", code="code_expired")
    raise AppError("验证码不正确", code="wrong_code")


def verify_code(config: Config, phone: str, code: str, address: str,
                device: str | None = None) -> None:
    """Accept a live code once. Every guess is counted against the number (or the owner's
    known phone) before it is checked; a right one is taken back out."""
    if not is_mobile(phone):
        raise ValidationFailed("请输入正确的11位手机号", code="invalid_phone")
    if not (code.isdigit() and len(code) == 6):
        raise ValidationFailed("验证码为6位数字", code="invalid_code")
    limit, window = config.logins_per_address
    ratelimit.hit("login-addr", ratelimit.subject_key(config.secret_key, address), limit, window)
    kind, subject = _code_subject(config, phone, trusted_device(config, phone, device))
    policy = config.code_failures
    reservation = guesses.reserve(kind, subject, policy,
                                  message="验证码错误次数太多，请稍后再试")
    _use_code(config, phone, code)
    guesses.refund(reservation, policy.window)


def resident_login(config: Config, phone: str, code: str, address: str,
                   device: str | None = None) -> Account:
    verify_code(config, phone, code, address, device)
    try:
        account = Account.get(resident_login_name(phone))
    except DoesNotExist:
        raise AppError("该手机号尚未登记，请到村卫生室或乡镇卫生院登记", code="not_registered",
                       ) from None
    if account.disabled:
        raise AppError("该账号已停用，请联系卫生院", code="account_disabled")
    return account


def staff_login(config: Config, username: str, password: str, address: str) -> Account:
    """Check a password. Failures count per account *and address*: ten wrong passwords
    from an attacker's addresses slow those addresses, never the owner at another one."""
    global _DUMMY_HASH
    login = staff_login_name(username)
    limit, window = config.logins_per_address
    ratelimit.hit("login-addr", ratelimit.subject_key(config.secret_key, address), limit, window,
                  message="登录尝试太频繁，请稍后再试")
    policy = config.password_failures
    reservation = guesses.reserve(
        "password", ratelimit.subject_key(config.secret_key, f"{login}|{address}"), policy,
        message="密码错误次数太多，请稍后再试")
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
    guesses.refund(reservation, policy.window)
    if account.disabled:
        raise AppError("该账号已停用，请联系管理员", code="account_disabled")
    return account


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(config: Config, account: Account) -> tuple[str, str]:
    """A new session, ending the account's earlier ones: returns (cookie token, CSRF
    token). 256 bits each."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = time.time()
    Session(_token_hash(token), login=account.login, role=account.role, csrf_token=csrf,
            display_name=account.display_name, resident_id=account.resident_id,
            facility_id=account.facility_id, created_at=utcnow(), idle_until=int(now + config.session_idle_seconds),
            expires_at=datetime.fromtimestamp(now + config.session_absolute_seconds,
                                              tz=timezone.utc),
            ).save(condition=Session.token_hash.does_not_exist())
    # One session per account: logging in again ends the earlier ones (a session left
    # open on a lost or shared phone closes when its owner signs in elsewhere).
    new_hash = _token_hash(token)
    for earlier in Session.by_login.query(account.login):
        if earlier.token_hash != new_hash:
            earlier.delete()
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

