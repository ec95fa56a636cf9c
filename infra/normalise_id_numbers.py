"""Rewrite identity numbers stored as typed (full-width digits, lower-case x) in normal form.

    python -m infra.normalise_id_numbers [--dry-run]

An offline tool (it Scans `residents`; run it with admin credentials, never from the
Lambda). Before normalisation was enforced, `１５０８…` and `1508…` were two claims, so one
person could be registered twice. For each resident whose stored number is not in normal
form, one transaction rewrites the number, claims the normalised key and releases the old
claim. If the normalised number is already claimed by someone else, the two records are the
same person registered twice: the tool changes neither and lists the pair for the centre to
merge by hand (health records are never merged by a script). Idempotent: a second run finds
nothing to do.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.models.base import condition_failed, transaction
from backend.models.people import Resident, Uniqueness
from backend.rules.identity import InvalidIdentityNumber, parse_identity_number
from backend.services.residents import id_number_claim

__all__ = ["normalise_stored_id_numbers", "Report", "main"]


@dataclass
class Report:
    rewritten: list[str] = field(default_factory=list)            # resident ids
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (this one, the holder)
    invalid: list[str] = field(default_factory=list)              # not a valid number at all


def _old_claim_owner(key: str) -> str | None:
    try:
        return Uniqueness.get(key).owner
    except DoesNotExist:
        return None


def normalise_stored_id_numbers(*, dry_run: bool = False) -> Report:
    report = Report()
    for r in Resident.scan(attributes_to_get=["resident_id", "id_number"]):
        try:
            value = parse_identity_number(r.id_number).value
        except InvalidIdentityNumber:
            report.invalid.append(r.resident_id)
            continue
        if value == r.id_number:
            continue
        new_key, old_key = id_number_claim(value), id_number_claim(r.id_number)
        holder = _old_claim_owner(new_key)
        if holder is not None and holder != r.resident_id:
            report.duplicates.append((r.resident_id, holder))
            continue
        if dry_run:
            report.rewritten.append(r.resident_id)
            continue
        try:
            with transaction() as tx:
                tx.update(Resident(r.resident_id), actions=[Resident.id_number.set(value)],
                          condition=Resident.id_number == r.id_number)
                tx.save(Uniqueness(new_key, owner=r.resident_id),
                        condition=Uniqueness.key.does_not_exist())
                if _old_claim_owner(old_key) == r.resident_id:
                    tx.delete(Uniqueness(old_key), condition=Uniqueness.owner == r.resident_id)
        except TransactWriteError as err:
            if not condition_failed(err):
                raise
            holder = _old_claim_owner(new_key)  # claimed meanwhile by a new registration
            if holder and holder != r.resident_id:
                report.duplicates.append((r.resident_id, holder))
            continue
        report.rewritten.append(r.resident_id)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    from backend import create_app  # binds the models to the configured endpoint
    create_app()
    report = normalise_stored_id_numbers(dry_run=args.dry_run)
    print(f"rewritten: {len(report.rewritten)}")
    print(f"duplicates: {len(report.duplicates)}")
    for this, holder in report.duplicates:
        print(f"  same number: {this} and {holder} (merge by hand)")
    print(f"invalid: {len(report.invalid)}")
    for rid in report.invalid:
        print(f"  {rid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
