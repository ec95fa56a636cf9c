"""Settings read from the environment, with local defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from backend.rules.login_limits import FailurePolicy


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


# The browsers' push services: Chrome/Android (FCM), Firefox (Mozilla autopush), Edge
# (Windows Push Notification Services), Safari/iOS (Apple).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.notify.windows.com",
    "web.push.apple.com",
    "*.push.apple.com",
)


@dataclass
class Config:
    """Everything the app reads from its surroundings.

    Locally the defaults point at moto's DynamoDB server on 127.0.0.1; on Lambda the
    environment of the stage (zappa_settings.json) overrides them.
    """

    stage: str = field(default_factory=lambda: _env("COUNTYCARE_STAGE", "local"))
    # Empty endpoint means "the real AWS endpoint of the region".
    dynamodb_endpoint: str = field(default_factory=lambda: _env("DYNAMODB_ENDPOINT", "http://127.0.0.1:8765"))
    aws_region: str = field(default_factory=lambda: _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "cn-northwest-1")))
    table_prefix: str = field(default_factory=lambda: _env("COUNTYCARE_TABLE_PREFIX", "countycare-local"))
    # S3 (backend.blobstore). Locally the same server as DynamoDB serves moto's S3; empty
    # means the region's real endpoint. Bucket names: `bucket(purpose)`.
    s3_endpoint: str = field(default_factory=lambda: _env("S3_ENDPOINT", _env("DYNAMODB_ENDPOINT", "http://127.0.0.1:8765")))
    # Days an audit record stays locked (S3 Object Lock, compliance mode) in the archive.
    audit_retention_days: int = 3650
    # Cookies carry the Secure flag everywhere but in plain-HTTP local development/tests.
    secure_cookies: bool = field(default_factory=lambda: _flag("COUNTYCARE_SECURE_COOKIES", True))
    # Text messages (backend.services.sms): "console" prints them (local); "alibaba" or
    # "tencent" sends them through that licensed provider. The signature and a template
    # code per kind (JSON {"login_code": "SMS_123", ...}) are the provider-approved ones;
    # the key pair comes from SSM (sms-key-id, sms-key-secret).
    sms_provider: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_PROVIDER", "console"))
    sms_signature: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_SIGNATURE", "县域健康"))
    sms_templates: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_TEMPLATES", ""))
    sms_endpoint: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_ENDPOINT", ""))
    sms_region: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_REGION", ""))
    sms_app_id: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_APP_ID", ""))
    sms_key_id: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_KEY_ID", ""))
    sms_key_secret: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_KEY_SECRET", ""))
    # The secret in the receipt callback's URL (SSM sms-callback-token): neither provider
    # signs its HTTP receipt push, so the URL configured in its console carries one.
    sms_callback_token: str = field(default_factory=lambda: _env("COUNTYCARE_SMS_CALLBACK_TOKEN", ""))
    # Daily text budgets when the county has not set its own (`CountyTextBudget`).
    sms_county_daily_default: int = field(default_factory=lambda: int(_env("COUNTYCARE_SMS_COUNTY_DAILY", "2000")))
    sms_person_daily_default: int = 5
    sms_timeout_seconds: float = 5.0
    sms_attempts: int = 3
    sms_backoff_seconds: float = 0.5
    session_idle_seconds: int = field(default_factory=lambda: int(_env("COUNTYCARE_SESSION_IDLE", str(30 * 60))))
    session_absolute_seconds: int = field(default_factory=lambda: int(_env("COUNTYCARE_SESSION_ABSOLUTE", str(12 * 3600))))
    login_code_ttl_seconds: int = 5 * 60
    # Codes kept live per number: a new request adds one, so the one already sent still
    # works. One request a minute in fixed windows lets at most 6 start within a code's
    # 5 minutes, so no code is pushed out before it expires.
    login_codes_live: int = 6
    # Code requests, (count, window seconds), per number (per the owner's known phone
    # when it sends its login-device cookie) and per address. They only stop *sending*:
    # verification never reads them, so an attacker's requests cannot void a code.
    code_request_interval: tuple[int, int] = (1, 60)
    code_requests_per_phone: tuple[int, int] = (10, 24 * 3600)
    code_requests_per_address: tuple[int, int] = (30, 3600)
    # Failed guesses (rules.login_limits): codes per number (or known phone), passwords
    # per account and address. They count failures only, never requests or successes.
    code_failures: FailurePolicy = field(default_factory=lambda: FailurePolicy(
        cap=10, window=24 * 3600, free=3, base_wait=30))
    password_failures: FailurePolicy = field(default_factory=lambda: FailurePolicy(
        cap=10, window=24 * 3600, free=5, base_wait=30))
    # All login attempts from one address (codes and passwords), a fixed window.
    logins_per_address: tuple[int, int] = (50, 900)
    login_device_days: int = 365
    # Keys HMACs of phone numbers and other lookups; from the environment/SSM on Lambda.
    secret_key: str = field(default_factory=lambda: _env("COUNTYCARE_SECRET_KEY", "local-development-only"))
    timezone: str = "Asia/Shanghai"
    # Web Push (VAPID, RFC 8292). The private key is the base64url raw P-256 scalar; on
    # Lambda it comes from SSM through the environment (backend.ssm). The public key is
    # derived when not given.
    vapid_private_key: str = field(default_factory=lambda: _env("COUNTYCARE_VAPID_PRIVATE_KEY", ""))
    vapid_public_key: str = field(default_factory=lambda: _env("COUNTYCARE_VAPID_PUBLIC_KEY", ""))
    vapid_subject: str = field(default_factory=lambda: _env("COUNTYCARE_VAPID_SUBJECT", "mailto:push@countycare.example.cn"))
    # Where a push may go (SSRF): https on these hosts only ("*.x" = any subdomain of x),
    # and only to public addresses after DNS resolution. COUNTYCARE_PUSH_HOSTS (comma-
    # separated) replaces the list. `push_allow_loopback` is for tests (their push service
    # is on 127.0.0.1, listed explicitly in their config): never set it on a stage.
    push_allowed_hosts: tuple[str, ...] = field(default_factory=lambda: tuple(
        h.strip() for h in _env("COUNTYCARE_PUSH_HOSTS", ",".join(DEFAULT_PUSH_HOSTS)).split(",")
        if h.strip()))
    push_allow_loopback: bool = False
    push_concurrency: int = field(default_factory=lambda: int(_env("COUNTYCARE_PUSH_CONCURRENCY", "16")))
    push_timeout_seconds: float = 5.0
    push_max_attempts: int = 3
    push_backoff_seconds: float = 0.5
    testing: bool = False
    # Extra knobs for later issues (VAPID keys etc.) live in `extra`.
    extra: dict = field(default_factory=dict)

    def bucket(self, purpose: str) -> str:
        """The S3 bucket for `purpose` ("exports", "audit"): `COUNTYCARE_<PURPOSE>_BUCKET`
        (set on AWS, where names are global), else `<table prefix>-<purpose>`."""
        return os.environ.get(f"COUNTYCARE_{purpose.upper()}_BUCKET") or f"{self.table_prefix}-{purpose}"

    @classmethod
    def local(cls, **overrides) -> "Config":
        base = cls()
        for f in fields(cls):
            if f.name in overrides:
                setattr(base, f.name, overrides[f.name])
        return base
