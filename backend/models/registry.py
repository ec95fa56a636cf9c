"""Registration (建档): households and the search terms that find a resident."""
from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute

from backend.models.base import BaseModel

__all__ = ["Household", "SearchKey"]


class Household(BaseModel):
    """A household (户). PK household_id.

    Its members are the residents with this `household_id` (residents by-household); each
    member's `household_relation` says how they relate to the head (户主, 配偶, 子女 ...).
    The one head is claimed in `uniqueness` as `hhhead#<household_id>`.
    """

    class Meta:
        table = "households"

    household_id = UnicodeAttribute(hash_key=True)
    village_id = UnicodeAttribute()
    township_id = UnicodeAttribute()
    head_id = UnicodeAttribute(null=True)
    head_name = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class SearchKey(BaseModel):
    """One search term of one resident, written when the resident is written.

    PK `shard` = `<township_id>#<kind>:<first character of the term>`; SK
    `<kind>:<term>#<resident_id>`. Kinds: `n` the name and each of its endings (钟静宝, 静宝,
    宝), `p` pinyin initials (zjb; each reading of a character with several), `f` full pinyin
    (zhongjingbao), `i` the identity number reversed and `t` the phone reversed (so "last
    digits" is a prefix). A search is one Query `begins_with` per kind in the shard of the
    typed text's first character: a centre's terms spread over many small item collections
    (one centre of 2,000 people holds ~30,000 terms), so a Query reads only its own.
    """

    class Meta:
        table = "search-keys"

    shard = UnicodeAttribute(hash_key=True)
    term_key = UnicodeAttribute(range_key=True)
    resident_id = UnicodeAttribute()
    township_id = UnicodeAttribute()

    @staticmethod
    def shard_of(township_id: str, kind: str, term: str) -> str:
        return f"{township_id}#{kind}:{term[:1]}"
