"""One person, one identity number, however it was typed: normalised before it is checked,
claimed and looked up; numbers stored as typed before this rule are rewritten offline."""
from __future__ import annotations

import pytest

from backend.errors import ValidationFailed
from backend.models.base import new_id, utcnow
from backend.models.people import Resident, Uniqueness
from backend.rules.identity import (InvalidIdentityNumber, normalise_identity_number,
                                    parse_identity_number)
from backend.services.residents import create_resident, find_by_id_number
from infra.normalise_id_numbers import normalise_stored_id_numbers
from tests.test_care_http import make_resident

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")


def full_width(number: str) -> str:
    return number.translate(FULL_WIDTH)


@pytest.mark.parametrize("typed, normal", [
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),   # full-width digits and X
    ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),   # full-width lower-case x
    ("110105 19491231 002x", "11010519491231002X"),                 # spaces inside
    ("１１０１０５1949１２３１002X", "11010519491231002X"),          # mixed widths
    ("\u3000110105194912310 02X\u3000", "11010519491231002X"),      # ideographic spaces
])
def test_full_width_and_spaced_numbers_normalise_to_one_spelling(typed, normal):
    assert normalise_identity_number(typed) == normal
    assert parse_identity_number(typed).value == normal


@pytest.mark.parametrize("typed", [
    "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",   # Arabic-Indic digits: isdigit() is true, but not an id number
    "११०१०५१९४९१२३१००२X",   # Devanagari digits
    "11010519491231002①",     # a circled digit folds to 1: wrong check character
])
def test_digits_of_other_scripts_are_refused(typed):
    with pytest.raises(InvalidIdentityNumber):
        parse_identity_number(typed)


def _township_admin(app):
    from tests.conftest import Browserless
    admin = Browserless(app, app.test_client())
    admin.login_staff("admin-twp-01")
    return admin


def test_a_number_typed_full_width_is_stored_normalised_and_blocks_its_ascii_twin(app):
    first = make_resident()
    number = first.id_number
    # Free the number again so we can register it as typed on a full-width keyboard.
    Uniqueness(f"idno#{number}").delete()
    first.delete()
    rid = f"t-{new_id()}"
    create_resident(resident_id=rid, id_number=full_width(number), name="全角", phone=None,
                    household_id=f"hh-{rid}", village_id="vil-twp-01-05", township_id="twp-01")
    admin = _township_admin(app)
    body = admin.client.get(f"/api/residents/{rid}").get_json()
    assert body["id_number"] == number
    assert Uniqueness.get(f"idno#{number}").owner == rid
    with pytest.raises(ValidationFailed) as err:
        create_resident(resident_id=f"t-{new_id()}", id_number=number, name="半角", phone=None,
                        household_id="hh-x", village_id="vil-twp-01-05", township_id="twp-01")
    assert err.value.code == "duplicate_id_number"
    assert find_by_id_number(full_width(number)).resident_id == rid
    assert find_by_id_number(number.lower()).resident_id == rid


def _stored_as_typed(typed: str) -> Resident:
    """A record as main wrote it before normalisation: number and claim as typed."""
    rid = f"t-{new_id()}"
    r = Resident(rid, id_number=typed, name="旧档案", sex="M", birth_date="1980-01-01",
                 household_id=f"hh-{rid}", village_id="vil-twp-01-05", township_id="twp-01",
                 created_at=utcnow())
    r.save()
    Uniqueness(f"idno#{typed}", owner=rid).save()
    return r


def test_numbers_stored_as_typed_are_rewritten_and_twins_listed_for_merging(app):
    lone = make_resident()
    Uniqueness(f"idno#{lone.id_number}").delete()
    lone.delete()
    old = _stored_as_typed(full_width(lone.id_number))
    twin_ascii = make_resident()        # registered twice: once full-width, once ASCII
    twin_old = _stored_as_typed(full_width(twin_ascii.id_number).lower())

    report = normalise_stored_id_numbers()

    assert old.resident_id in report.rewritten
    assert Resident.get(old.resident_id).id_number == lone.id_number
    assert Uniqueness.get(f"idno#{lone.id_number}").owner == old.resident_id
    with pytest.raises(Uniqueness.DoesNotExist):
        Uniqueness.get(f"idno#{full_width(lone.id_number)}")
    assert (twin_old.resident_id, twin_ascii.resident_id) in report.duplicates
    assert Resident.get(twin_old.resident_id).id_number == full_width(twin_ascii.id_number).lower()
    # The lookup finds the rewritten record however the number is typed now.
    assert find_by_id_number(full_width(lone.id_number)).resident_id == old.resident_id
    again = normalise_stored_id_numbers()
    assert old.resident_id not in again.rewritten
    twin_old.delete()
    Uniqueness(f"idno#{twin_old.id_number}").delete()
