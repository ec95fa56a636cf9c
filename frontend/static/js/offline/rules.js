// The follow-up rules in the browser: the same data file the server reads
// (backend/rules/followup_rules.json, served at /rules/followup.json), read the same way as
// backend/rules/followup.py. One table of cases (tests/cases/followup_cases.json) runs
// against both. The phone's verdict is provisional; the server's replaces it after sync.
export const RULES_URL = "/rules/followup.json";
const READING_FIELDS = ["systolic", "diastolic", "fasting_glucose", "heart_rate", "temperature"];
const OPS = { ">=": (a, b) => a >= b, ">": (a, b) => a > b, "<=": (a, b) => a <= b, "<": (a, b) => a < b };

export class ImpossibleReading extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

const value = (r, name) => (r[name] === undefined || r[name] === "" ? null : r[name]);
const fmt = (v) => String(v);

export function validateRange(rules, name, v) {
  const spec = rules.ranges[name];
  if (v === null || v === undefined) return;
  const code = spec.code || `impossible_${name}`;
  if (spec.integer && !Number.isInteger(v)) throw new ImpossibleReading(`${spec.label}应为整数`, code);
  if (!(spec.min <= v && v <= spec.max)) {
    throw new ImpossibleReading(
      `${spec.label} ${fmt(v)} ${spec.unit} 不可能（应在${fmt(spec.min)}到${fmt(spec.max)}之间），请复测`, code);
  }
}

/** Refuse readings no living person has (throws ImpossibleReading with the server's code). */
export function validateReadings(rules, r, disease = null) {
  for (const pair of rules.pairs) {
    const present = pair.fields.map((f) => value(r, f) !== null);
    if (present.some(Boolean) && !present.every(Boolean)) throw new ImpossibleReading(pair.message, pair.code);
  }
  for (const name of Object.keys(rules.ranges)) validateRange(rules, name, value(r, name));
  for (const rule of rules.order) {
    const low = value(r, rule.lower), high = value(r, rule.upper);
    if (low !== null && high !== null && low >= high) throw new ImpossibleReading(rule.message, rule.code);
  }
  if (!((r.adverse_reaction || "none") in rules.adverse_reactions)) {
    throw new ImpossibleReading("药物不良反应只能是无、首次或难以控制", "invalid_adverse_reaction");
  }
  for (const need of rules.required[disease || ""] || []) {
    if (value(r, need.field) === null) throw new ImpossibleReading(need.message, need.code);
  }
}

export function addMonths(iso, months) {
  const [y, m, d] = iso.split("-").map(Number);
  const index = m - 1 + months;
  const year = y + Math.floor(index / 12), month = (index % 12) + 1;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return isoDate(year, month, Math.min(d, last));
}

export function addDays(iso, days) {
  const [y, m, d] = iso.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return isoDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

const isoDate = (y, m, d) => `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;

function holds(cond, r, age = null) {
  const v = value(r, cond.field);
  if (v === null) return false;
  let limit = cond.value;
  for (const step of cond.by_age || []) if (age !== null && age >= step.min_age) limit = step.value;
  return OPS[cond.op](v, limit);
}

function dangerReasons(rules, disease, r) {
  const values = Object.fromEntries(READING_FIELDS.map((n) => [n, value(r, n) === null ? "None" : fmt(value(r, n))]));
  const reasons = [];
  for (const cond of rules.danger[disease]) {
    if (!holds(cond, r)) continue;
    const text = cond.reason.replace(/\{(\w+)\}/g, (_, k) => values[k]);
    if (!reasons.includes(text)) reasons.push(text);
  }
  if ((r.danger_symptoms || []).length) reasons.push(rules.danger.symptoms_reason);
  return reasons;
}

function nextDue(rules, kind, visit) {
  const step = rules.next_visit[kind];
  return "months" in step ? addMonths(visit, step.months) : addDays(visit, step.days);
}

/** Validate, then the first row of the classification table whose `when` holds. */
export function classify(rules, disease, r, { age, visit, previousUncontrolled = false }) {
  validateReadings(rules, r, disease);
  const danger = dangerReasons(rules, disease, r);
  const controlled = rules.controlled[disease].every((c) => holds(c, r, age));
  const facts = { danger: danger.length > 0, adverse_reaction: r.adverse_reaction || "none",
    complication: !!r.new_complication, controlled, previous_uncontrolled: !!previousUncontrolled };
  for (const row of rules.classification) {
    if (Object.entries(row.when).every(([k, v]) => facts[k] === v)) {
      const reasons = row.outcome === "urgent_referral" ? danger : (row.reason ? [row.reason] : []);
      return { outcome: row.outcome, label: rules.outcomes[row.outcome], refer: row.refer, urgent: row.urgent,
        next_due: nextDue(rules, row.next, visit), reasons, controlled };
    }
  }
  throw new Error("the classification table ends with a catch-all row");
}
