"""Why the county opens one person's record: a reason from a fixed list, plus optional words (pure).

The commission sees indicators; a single record only for a stated purpose, recorded in the
audit trail (never in a URL, so never in an access log). Codes are stable; labels Chinese.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REASONS", "AccessReason", "InvalidReason", "parse_reason", "MAX_NOTE"]

REASONS: dict[str, str] = {
    "quality_check": "质控抽查",
    "complaint": "投诉核查",
    "data_check": "数据核对",
    "other": "其他",
}
MAX_NOTE = 200


class InvalidReason(ValueError):
    """A reason the list does not hold, or "other" without words; `code` is stable."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AccessReason:
    code: str
    note: str | None

    @property
    def label(self) -> str:
        return REASONS[self.code]


def parse_reason(code, note=None) -> AccessReason:
    """The reason as chosen: a listed code; "other" needs a few words of its own."""
    if not isinstance(code, str) or code not in REASONS:
        raise InvalidReason("请从列表中选择查看理由", "invalid_reason")
    text = " ".join(str(note).split()) if note is not None else ""
    if len(text) > MAX_NOTE:
        raise InvalidReason(f"说明不能超过{MAX_NOTE}字", "invalid_reason_note")
    if code == "other" and len(text) < 2:
        raise InvalidReason("选择“其他”时请写明理由", "reason_note_required")
    return AccessReason(code, text or None)
