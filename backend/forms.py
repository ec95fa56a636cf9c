"""Untrusted values from forms and query strings: numbers and redirect targets, one parser each.

    whole_number(form.get("capacity"), low=1, high=500, field="容量")   -> int or 422
    yuan_to_fen(form.get("fee_yuan"), high_yuan=10_000)                -> int fen or 422
    safe_next(request.values.get("next"))                               -> a same-site path or "/"

JSON bodies go through the request schemas (`backend.api.Schema`: bounded fields, no
NaN/Infinity); these are for the form posts and query strings the pages send.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

from backend.errors import ValidationFailed

__all__ = ["whole_number", "yuan_to_fen", "safe_next"]

_WHOLE = re.compile(r"[+-]?[0-9]{1,12}")
_MONEY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


def whole_number(raw, *, low: int, high: int, default: int | None = None, field: str = "数值",
                 code: str = "invalid_number") -> int:
    """A whole number between `low` and `high` (ASCII or full-width digits); empty means
    `default` (422 if there is none). Never float(): "1e9", "inf" and "nan" are refused."""
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    if not text:
        if default is None:
            raise ValidationFailed(f"请填写{field}", code=code)
        return default
    if not _WHOLE.fullmatch(text):
        raise ValidationFailed(f"{field}应为整数", code=code)
    value = int(text)
    if not low <= value <= high:
        raise ValidationFailed(f"{field}应在{low}到{high}之间", code=code)
    return value


def yuan_to_fen(raw, *, high_yuan: int = 10_000, field: str = "费用") -> int:
    """An amount in yuan with at most two decimals (e.g. "12.50") as whole fen; empty is 0."""
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    if not text:
        return 0
    if not _MONEY.fullmatch(text):
        raise ValidationFailed(f"{field}应为金额（元，最多两位小数）", code="invalid_amount")
    try:
        fen = int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise ValidationFailed(f"{field}应为金额", code="invalid_amount") from None
    if fen > high_yuan * 100:
        raise ValidationFailed(f"{field}不能超过{high_yuan}元", code="invalid_amount")
    return fen


def safe_next(target, default: str = "/") -> str:
    """Where to send the browser back to: a path on this site, else `default`.

    Only a relative path that starts with a single "/" is kept; a backslash, any control
    character or whitespace (also percent-encoded: `/%09/evil.example` is `//evil.example`
    to a browser, which drops tabs and newlines) makes it `default`.
    """
    if not isinstance(target, str) or not target or len(target) > 2000:
        return default
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return default
        if any(ch.isspace() or ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for ch in form):
            return default
    return target
