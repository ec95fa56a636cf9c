"""Registration (建档) rules: relationships within a household, names and phones as typed."""
from __future__ import annotations

import re
import unicodedata

__all__ = ["RELATIONS", "HEAD", "normalise_name", "normalise_phone", "RegistryRuleError"]

HEAD = "户主"
# The relationship to the head of household, as the household register (户口簿) writes it.
RELATIONS = (HEAD, "配偶", "子女", "父母", "儿媳/女婿", "孙子女", "祖父母", "兄弟姐妹", "其他")
_NAME = re.compile(r"[\u3400-\u9fff·]{2,20}|[A-Za-z][A-Za-z .·-]{1,39}")


class RegistryRuleError(ValueError):
    """A registration value that cannot be right; `code` stable, message Chinese."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def normalise_name(raw: str) -> str:
    """A name as written on the identity card: NFKC, inner spaces folded, 2-20 characters."""
    name = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if not _NAME.fullmatch(name):
        raise RegistryRuleError("姓名应为2到20个汉字（少数民族姓名可含“·”）", "invalid_name")
    return name


def normalise_phone(raw: str | None) -> str | None:
    """A mainland mobile number (full-width digits, spaces and dashes allowed), or None."""
    if raw is None or not raw.strip():
        return None
    phone = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw))
    if not re.fullmatch(r"1[3-9][0-9]{9}", phone):
        raise RegistryRuleError("手机号应为11位，以13-19开头", "invalid_phone")
    return phone
