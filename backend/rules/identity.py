"""Resident identity numbers (GB 11643) and mainland mobile numbers."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

__all__ = ["IdentityNumber", "parse_identity_number", "normalise_identity_number",
           "check_character", "is_mobile",
           "mask_identity_number", "mask_mobile", "age_on", "InvalidIdentityNumber"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_MOBILE = re.compile(r"1[3-9]\d{9}")
# ASCII only: str.isdigit() is also true of full-width (１) and other scripts' digits.
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class InvalidIdentityNumber(ValueError):
    """Raised with a Chinese reason a person can act on."""


@dataclass(frozen=True)
class IdentityNumber:
    value: str
    region: str
    birth_date: date
    sex: str  # "M" or "F"

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


def check_character(first17: str) -> str:
    """The 18th character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def normalise_identity_number(raw: str) -> str:
    """The one spelling a number is stored, claimed and looked up by.

    NFKC folds full-width digits and letters (１５０８…ｘ) to ASCII; spaces anywhere
    (people type 1508 2319 …) are dropped; x becomes X. Not validated: see
    `parse_identity_number`.
    """
    folded = unicodedata.normalize("NFKC", raw or "")
    return "".join(folded.split()).upper()


def parse_identity_number(raw: str, *, today: date | None = None) -> IdentityNumber:
    value = normalise_identity_number(raw)
    if len(value) != 18:
        raise InvalidIdentityNumber("身份证号应为18位")
    if not _SHAPE.fullmatch(value):
        raise InvalidIdentityNumber("身份证号前17位应为数字，最后一位为数字或X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdentityNumber("身份证号中的出生日期无效") from None
    today = today or date.today()
    if born > today or born.year < 1900:
        raise InvalidIdentityNumber("身份证号中的出生日期无效")
    if check_character(value[:17]) != value[17]:
        raise InvalidIdentityNumber("身份证号校验位不正确，请核对")
    sex = "M" if int(value[16]) % 2 == 1 else "F"
    return IdentityNumber(value=value, region=value[:6], birth_date=born, sex=sex)


def age_on(born: date, day: date) -> int:
    """Whole years completed on `day` (a 29 February birthday counts on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_mobile(raw: str) -> bool:
    return bool(_MOBILE.fullmatch(raw or ""))


def mask_identity_number(value: str) -> str:
    """First 6 and last 4 characters shown, the rest starred."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_mobile(value: str) -> str:
    if len(value) != 11:
        return "*" * len(value)
    return value[:3] + "****" + value[-4:]
