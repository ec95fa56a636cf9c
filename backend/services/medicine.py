"""Long prescriptions, relatives collecting medicine, and the free yearly health check."""
from __future__ import annotations

from datetime import date

from pynamodb.exceptions import DoesNotExist

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.base import new_id, utcnow
from backend.models.care import (ChronicCase, Collection, HealthCheck, MedicineCollector,
                                 Prescription)
from backend.rules import contracts as rules
from backend.rules.followup import DISEASES, ImpossibleReading, Readings, validate_readings
from backend.services import audit
from backend.services.auth import CurrentUser
from backend.services.care_common import local_today, team_patient
from backend.services.residents import get_resident

__all__ = ["prescribe", "authorise_collector", "collect", "record_health_check", "overview"]


def prescribe(user: CurrentUser, resident_id: str, *, disease: str, weeks: int,
              drugs: list[str]) -> Prescription:
    """A 4-12 week prescription for a stable (controlled at the last follow-up) patient."""
    team_patient(user, resident_id)
    if disease not in DISEASES:
        raise ValidationFailed("长处方只适用于高血压或2型糖尿病", code="invalid_disease")
    today = local_today()
    try:
        refill = rules.prescription_refill(today, weeks)
    except rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    try:
        case = ChronicCase.get(resident_id, disease)
    except DoesNotExist:
        case = None
    if case is None or case.last_outcome != "controlled":
        raise ValidationFailed("长处方仅适用于最近一次随访控制满意的稳定患者", code="not_stable")
    rx = Prescription(resident_id, new_id(), team_id=user.team_id, disease=disease,
                      drugs=drugs, weeks=weeks, start=today.isoformat(),
                      next_refill=refill.isoformat(), prescribed_by=user.login,
                      created_at=utcnow())
    rx.save(condition=Prescription.prescription_id.does_not_exist())
    audit.record(user, subject_id=resident_id, action="write",
                 what="prescription.long")
    return rx


def authorise_collector(user: CurrentUser, patient_id: str, *, collector_id: str,
                        relation: str) -> MedicineCollector:
    """The patient (online) or their team (at the desk, patient present) records it."""
    if user.role == "resident":
        if user.resident_id != patient_id:
            raise Forbidden("只有患者本人可以授权他人代取药", code="patient_only")
    else:
        team_patient(user, patient_id)
    if collector_id == patient_id:
        raise ValidationFailed("无需授权本人", code="invalid_collector")
    get_resident(collector_id)
    grant = MedicineCollector(patient_id, collector_id, relation=relation,
                              recorded_by=user.login, recorded_at=utcnow())
    grant.save()
    audit.record(user, subject_id=patient_id, action="write",
                 what="prescription.collector")
    return grant


def collect(user: CurrentUser, resident_id: str, prescription_id: str, *,
            collector_id: str) -> Prescription:
    """Hand out a refill: to the patient, or a relative the patient authorised."""
    team_patient(user, resident_id)
    try:
        rx = Prescription.get(resident_id, prescription_id)
    except DoesNotExist:
        raise NotFound("找不到该处方") from None
    relative = collector_id != resident_id
    if relative:
        try:
            MedicineCollector.get(resident_id, collector_id)
        except DoesNotExist:
            raise Forbidden("患者未授权此人代取药", code="collector_not_authorised") from None
    today = local_today()
    refill = rules.prescription_refill(today, int(rx.weeks)).isoformat()
    rx.update(actions=[
        Prescription.collections.set(Prescription.collections.append([Collection(
            on=today.isoformat(), collector_id=collector_id, relative=relative, by=user.login)])),
        Prescription.next_refill.set(refill)],
        condition=Prescription.prescription_id.exists())
    audit.record(user, subject_id=resident_id, action="write",
                 what="prescription.collect")
    return rx


def record_health_check(user: CurrentUser, resident_id: str, *, systolic: int, diastolic: int,
                        fasting_glucose: float, heart_rate: int,
                        check_date: date | None = None) -> HealthCheck:
    """The free yearly check of a poor resident, once a year, with screening flags."""
    resident = team_patient(user, resident_id)
    if not resident.poor:
        raise ValidationFailed("免费健康体检面向脱贫（低收入）人口", code="not_eligible")
    try:
        validate_readings(Readings(systolic=systolic, diastolic=diastolic,
                                   fasting_glucose=fasting_glucose, heart_rate=heart_rate))
    except ImpossibleReading as err:
        raise ValidationFailed(str(err), code=err.code) from None
    day = check_date or local_today()
    flags = rules.screen_health_check(systolic, diastolic, fasting_glucose, heart_rate).flags
    check = HealthCheck(resident_id, str(day.year), check_date=day.isoformat(), systolic=systolic,
                        diastolic=diastolic, fasting_glucose=fasting_glucose,
                        heart_rate=heart_rate, flags=flags, team_id=user.team_id,
                        recorded_by=user.login, recorded_at=utcnow())
    from pynamodb.exceptions import PutError
    try:
        check.save(condition=HealthCheck.year.does_not_exist())
    except PutError as err:
        if getattr(err, "cause_response_code", "") == "ConditionalCheckFailedException":
            raise Conflict(f"{day.year}年的免费健康体检已做过", code="already_checked_this_year") from None
        raise
    audit.record(user, subject_id=resident_id, action="write",
                 what="health_check.yearly")
    return check


def overview(user: CurrentUser, resident_id: str) -> dict:
    """What the patient page shows about medicine and the free check (Queries by key; audited).

    `candidates` are the people who might collect for the patient: the household and anyone
    the patient authorised in the app, each marked whether a collector row exists.
    """
    from backend.models.people import ProxyGrant, Resident
    resident = team_patient(user, resident_id)
    prescriptions = sorted(Prescription.query(resident_id), key=lambda p: p.prescription_id,
                           reverse=True)
    collectors = {c.collector_id: c for c in MedicineCollector.query(resident_id)}
    try:
        check = HealthCheck.get(resident_id, str(local_today().year))
    except DoesNotExist:
        check = None
    ids = {r.resident_id for r in Resident.by_household.query(resident.household_id)}
    ids |= {g.proxy_id for g in ProxyGrant.by_subject.query(resident_id)}
    ids |= set(collectors)
    ids.discard(resident_id)
    people = {p.resident_id: p for p in Resident.batch_get(sorted(ids))} if ids else {}
    candidates = [{"resident_id": i, "name": people[i].name if i in people else i,
                   "authorised": i in collectors,
                   "relation": collectors[i].relation if i in collectors else None}
                  for i in sorted(ids, key=lambda i: (i not in collectors, i))]
    audit.record(user, subject_id=resident_id, action="read",
                 what="prescription.overview")
    return {"prescriptions": prescriptions, "collectors": collectors, "check": check,
            "candidates": candidates}
