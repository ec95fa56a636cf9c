"""GB 11643 identity numbers and mainland mobile numbers, rule by rule."""
from datetime import date

import pytest

from backend.rules.identity import (InvalidIdentityNumber, age_on, check_character, is_mobile,
                                    mask_identity_number, mask_mobile, parse_identity_number)
from infra.seed import make_id_number, plan

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("first17, check", [
    ("11010519491231002", "X"),   # the standard's own example
    ("44052419800101001", "3"),
    ("15082319560312002", "2"),
    ("11010119900307803", "X"),
])
def test_check_character_is_weighted_sum_mod_11(first17, check):
    assert check_character(first17) == check


@pytest.mark.parametrize("number, birth, sex", [
    ("11010519491231002X", date(1949, 12, 31), "F"),
    ("11010519491231002x", date(1949, 12, 31), "F"),   # lower-case x accepted
    (" 440524198001010013 ", date(1980, 1, 1), "M"),   # whitespace trimmed
    ("11010119900307803x", date(1990, 3, 7), "M"),
])
def test_valid_numbers_give_birth_date_and_sex(number, birth, sex):
    ident = parse_identity_number(number, today=TODAY)
    assert ident.birth_date == birth
    assert ident.sex == sex
    assert ident.value == number.strip().upper()
    assert ident.region == number.strip()[:6]


@pytest.mark.parametrize("number, reason", [
    ("", "18位"),
    ("11010519491231002", "18位"),                    # 17 characters
    ("11010519491231002X1", "18位"),                  # 19 characters
    ("1101051949123100AX", "数字"),                   # letter inside
    ("11010519491231002Y", "数字"),                   # bad last character
    ("110105194912310021", "校验位"),                 # wrong check character
    ("110105194902300021", "出生日期"),               # 30 February
    ("110105203001010011", "出生日期"),               # born in the future
    ("110105180001010011", "出生日期"),               # before 1900
])
def test_invalid_numbers_are_refused_with_a_chinese_reason(number, reason):
    with pytest.raises(InvalidIdentityNumber) as err:
        parse_identity_number(number, today=TODAY)
    assert reason in str(err.value)


@pytest.mark.parametrize("born, day, age", [
    (date(1961, 11, 25), TODAY, 65),      # birthday today: 65
    (date(1961, 11, 26), TODAY, 64),      # tomorrow: still 64
    (date(1960, 2, 29), date(2025, 2, 28), 64),
    (date(1960, 2, 29), date(2025, 3, 1), 65),
])
def test_age_counts_completed_years(born, day, age):
    assert age_on(born, day) == age


@pytest.mark.parametrize("phone, ok", [
    ("13900000001", True), ("19912345678", True), ("12900000001", False),
    ("1390000000", False), ("139000000011", False), ("1390000000a", False), ("", False),
    ("+8613900000001", False),
])
def test_mobile_numbers(phone, ok):
    assert is_mobile(phone) is ok


def test_masks_show_first_six_and_last_four():
    assert mask_identity_number("11010519491231002X") == "110105********002X"
    assert mask_mobile("13900000001") == "139****0001"


def test_seeded_people_have_valid_unique_identity_numbers_and_the_planned_age_mix():
    county = plan(3000)
    numbers = [r["id_number"] for r in county.residents]
    assert len(set(numbers)) == len(numbers)
    for r in county.residents:
        ident = parse_identity_number(r["id_number"], today=TODAY)
        assert ident.birth_date.isoformat() == r["birth_date"]
        assert ident.sex == r["sex"]
    elderly = sum(age_on(date.fromisoformat(r["birth_date"]), TODAY) >= 65 for r in county.residents)
    assert 0.12 <= elderly / len(county.residents) <= 0.20
    assert plan(3000).residents[17] == county.residents[17]   # deterministic
    assert make_id_number(date(1950, 1, 1), 3, True)[16] in "13579"
