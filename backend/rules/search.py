"""Search terms: how a resident is found by name, pinyin initials and last digits.

Terms are computed when a resident is written (never per query); `pypinyin` is imported
only here, where a record is written (it costs ~0.15 s to import: not on a cold start).
"""
from __future__ import annotations

import itertools
import re
import unicodedata

__all__ = ["name_terms", "digit_terms", "parse_query", "Query", "MIN_DIGITS", "normalise_query"]

MIN_DIGITS = 4          # fewer digits would enumerate people, not find one
_MAX_READINGS = 8       # a name of several heteronyms: at most this many initial spellings
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalise_query(raw: str) -> str:
    return "".join(unicodedata.normalize("NFKC", raw or "").split()).lower()


def name_terms(name: str) -> dict[str, set[str]]:
    """`n`: the name and each of its endings; `p`: pinyin initials (each reading of a
    heteronym such as 单 d/s/c, capped); `f`: full pinyin without tones."""
    from pypinyin import Style, lazy_pinyin, pinyin

    name = normalise_query(name).replace("·", "")
    hanzi = "".join(_CJK.findall(name))
    terms: dict[str, set[str]] = {"n": {name[i:] for i in range(len(name))}, "p": set(), "f": set()}
    if hanzi:
        letters = pinyin(hanzi, style=Style.FIRST_LETTER, heteronym=True, errors="ignore")
        for combo in itertools.islice(itertools.product(*letters), _MAX_READINGS):
            terms["p"].add("".join(combo).lower())
        terms["f"].add("".join(lazy_pinyin(hanzi, errors="ignore")).lower())
    elif name.isascii():
        terms["f"].add(re.sub(r"[^a-z]", "", name))
    return terms


def digit_terms(id_number: str | None, phone: str | None) -> dict[str, set[str]]:
    """`i` and `t`: the identity number and the phone reversed, so last digits are a prefix."""
    return {"i": {id_number[::-1].lower()} if id_number else set(),
            "t": {phone[::-1]} if phone else set()}


class Query:
    """What a typed search string looks for: a list of (kind, prefix) to query."""

    def __init__(self, kinds: list[tuple[str, str]], text: str, error: str | None = None):
        self.kinds, self.text, self.error = kinds, text, error


def parse_query(raw: str) -> Query:
    q = normalise_query(raw)
    if not q:
        return Query([], q)
    if re.fullmatch(r"[0-9]+x?", q) or re.fullmatch(r"x", q):
        if len(q) < MIN_DIGITS:
            return Query([], q, f"请至少输入身份证号或手机号的后{MIN_DIGITS}位")
        rev = q[::-1]
        return Query([("i", rev), ("t", rev)], q)
    if re.fullmatch(r"[a-z]+", q):
        return Query([("p", q), ("f", q)], q)
    return Query([("n", q)], q)
