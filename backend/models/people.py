"""Residents, households, proxy authorisations and uniqueness guards."""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute,
                                 UnicodeSetAttribute, UTCDateTimeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from backend.models.base import BaseModel

__all__ = ["Resident", "ProxyGrant", "Uniqueness", "save_with_claim"]


class ResidentsByPhone(GlobalSecondaryIndex):
    """Residents reachable on one mobile number (a family may share a phone)."""

    class Meta:
        index_name = "by-phone"
        projection = KeysOnlyProjection()

    phone = UnicodeAttribute(hash_key=True)
    resident_id = UnicodeAttribute(range_key=True)


class ResidentsByVillage(GlobalSecondaryIndex):
    """Residents of a village, oldest first (ledgers, rosters)."""

    class Meta:
        index_name = "by-village"
        projection = AllProjection()

    village_id = UnicodeAttribute(hash_key=True)
    birth_date = UnicodeAttribute(range_key=True)


class ResidentsByHousehold(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-household"
        projection = KeysOnlyProjection()

    household_id = UnicodeAttribute(hash_key=True)
    resident_id = UnicodeAttribute(range_key=True)


class Resident(BaseModel):
    """A person living in the county: the health record's anchor. PK resident_id (ULID).

    `birth_date` is ISO `YYYY-MM-DD`, derived from the identity number.
    """

    class Meta:
        table = "residents"

    resident_id = UnicodeAttribute(hash_key=True)
    id_number = UnicodeAttribute()
    name = UnicodeAttribute()
    sex = UnicodeAttribute()
    birth_date = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)
    household_id = UnicodeAttribute()
    household_relation = UnicodeAttribute(null=True)   # to the head: 户主, 配偶, 子女 ...
    village_id = UnicodeAttribute()
    township_id = UnicodeAttribute()
    team_id = UnicodeAttribute(null=True)
    conditions = UnicodeSetAttribute(default=set)      # hypertension, diabetes, ...
    priority_flags = UnicodeSetAttribute(default=set)  # poor, disabled, ...
    poor = BooleanAttribute(default=False)
    notes = ListAttribute(default=list)
    created_at = UTCDateTimeAttribute()
    # Edits of the details carry the version they started from (offline phones): a
    # conditional update `version = <base>` refuses a stale edit instead of overwriting.
    version = NumberAttribute(null=True)

    by_phone = ResidentsByPhone()
    by_village = ResidentsByVillage()
    by_household = ResidentsByHousehold()


class GrantsBySubject(GlobalSecondaryIndex):
    """Who may act for this person."""

    class Meta:
        index_name = "by-subject"
        projection = AllProjection()

    subject_id = UnicodeAttribute(hash_key=True)
    proxy_id = UnicodeAttribute(range_key=True)


class ProxyGrant(BaseModel):
    """A resident's authorisation for another resident to act for them (proxy booking).

    PK proxy_id (who acts), SK subject_id (for whom).
    """

    class Meta:
        table = "proxy-grants"

    proxy_id = UnicodeAttribute(hash_key=True)
    subject_id = UnicodeAttribute(range_key=True)
    relation = UnicodeAttribute()  # 子女, 配偶, 亲属 ...
    granted_at = UTCDateTimeAttribute()
    by_subject = GrantsBySubject()


class Uniqueness(BaseModel):
    """Claims a unique value in a transaction with the item that owns it.

    PK key: `<kind>#<value>` (e.g. `idno#<hash>`); `owner` is the owning item's id.
    """

    class Meta:
        table = "uniqueness"

    key = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()


def save_with_claim(item: BaseModel, claim_key: str, owner: str) -> bool:
    """Save a new `item` and claim `claim_key` for it in one transaction.

    Returns False (and writes nothing) when the claim or the item already exists; any
    other failure is raised.
    """
    from pynamodb.exceptions import TransactWriteError

    from backend.models.base import condition_failed, transaction
    hash_attr = getattr(type(item), type(item)._hash_keyname)
    try:
        with transaction() as tx:
            tx.save(Uniqueness(claim_key, owner=owner), condition=Uniqueness.key.does_not_exist())
            tx.save(item, condition=hash_attr.does_not_exist())
    except TransactWriteError as err:
        if condition_failed(err):
            return False
        raise
    return True
