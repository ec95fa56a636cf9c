// The outbox: records made on this phone, kept in IndexedDB until the server acknowledges
// their id. Not Workbox's queue (it drops entries after 7 days and loses one whose replay
// got a 5xx): here a record leaves only on the server's per-record answer.
import { DEVICE, byOwner, getMeta, offlineDb, randomId } from "./db.js";

export const KINDS = { followup: "慢病随访", elder_visit: "老年人健康管理", resident_details: "居民信息修改" };
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const KEPT_SENT_DAYS = 7;

/** Whether an entry read back from storage is one we can send (else it is set aside). */
export function wellFormed(rec) {
  return !!rec && typeof rec === "object" && typeof rec.id === "string" && ID.test(rec.id)
    && typeof rec.owner === "string" && rec.owner.length > 0 && rec.kind in KINDS
    && typeof rec.resident_id === "string" && rec.resident_id.length > 0
    && !!rec.data && typeof rec.data === "object" && !Array.isArray(rec.data);
}

/** Put a new record in the outbox; `id` may be given (the form's own client id). */
export async function enqueue(owner, { kind, resident_id, data, provisional = null, label = "", id = null }) {
  if (!owner) throw new Error("不知道本机当前是哪位医生，请联网登录一次");
  const rec = {
    id: id || randomId(), owner, kind, resident_id, data, provisional, label,
    made_at: new Date().toISOString(), status: "pending", answer: null,
  };
  await (await offlineDb()).put("outbox", rec);
  askForBackgroundSync();
  return rec;
}

/** Chromium's Background Sync: the worker uploads when the signal returns, page open or not. */
export function askForBackgroundSync() {
  if (typeof navigator === "undefined" || !navigator.serviceWorker) return;
  navigator.serviceWorker.ready
    .then((reg) => reg.sync && reg.sync.register("cc-outbox"))
    .catch(() => {});  // Safari and Firefox have none: app open, reconnect and the button upload
}

/** Every outbox entry of `owner`; malformed ones are moved to "aside" (kept, reported). */
export async function entries(owner) {
  const all = await byOwner("outbox", owner);
  const good = [];
  for (const rec of all) {
    if (wellFormed(rec)) { good.push(rec); continue; }
    await setAside(rec, "记录内容已损坏，无法上传");
  }
  return good.sort((a, b) => (a.id < b.id ? -1 : 1));
}

export async function setAside(rec, why) {
  const db = await offlineDb();
  const tx = db.transaction(["outbox", "aside"], "readwrite");
  let text;
  try { text = JSON.stringify(rec); } catch { text = String(rec); }
  tx.objectStore("aside").add({ owner: rec?.owner || DEVICE, why, text, at: new Date().toISOString() });
  if (rec && rec.id !== undefined) tx.objectStore("outbox").delete(rec.id);
  await tx.done;
}

export async function counts(owner) {
  const list = owner ? await entries(owner) : [];
  const aside = owner ? (await byOwner("aside", owner)).length : 0;
  return {
    pending: list.filter((r) => r.status !== "refused").length,
    refused: list.filter((r) => r.status === "refused").length,
    aside,
  };
}

/** Apply the server's answers: acknowledged ids leave the outbox (with their verdict). */
export async function applyAnswers(owner, answers) {
  const db = await offlineDb();
  const tx = db.transaction(["outbox", "sent"], "readwrite");
  const out = tx.objectStore("outbox");
  const result = { stored: 0, already_stored: 0, held: 0, refused: 0, retry: 0 };
  for (const a of answers) {
    const rec = await out.get(a.id);
    if (!rec || rec.owner !== owner) continue;  // never touch another person's records
    result[a.status] = (result[a.status] || 0) + 1;
    if (a.status === "stored" || a.status === "already_stored" || a.status === "held") {
      out.delete(a.id);
      tx.objectStore("sent").put({ ...rec, status: a.status, answer: a, acknowledged_at: new Date().toISOString() });
    } else if (a.status === "refused") {
      out.put({ ...rec, status: "refused", answer: a });
    } else {
      out.put({ ...rec, status: "pending", answer: a });
    }
  }
  await tx.done;
  return result;
}

export async function discard(owner, id) {
  const db = await offlineDb();
  const rec = await db.get("outbox", id);
  if (rec && rec.owner === owner) await db.delete("outbox", id);
}

/** Acknowledged records of the last week (the doctor sees the server's verdicts). */
export async function sent(owner) {
  const cutoff = Date.now() - KEPT_SENT_DAYS * 86400e3;
  const db = await offlineDb();
  const list = await byOwner("sent", owner);
  const keep = [];
  for (const rec of list) {
    if (Date.parse(rec.acknowledged_at) < cutoff) await db.delete("sent", rec.id);
    else keep.push(rec);
  }
  return keep.sort((a, b) => (a.id < b.id ? 1 : -1));
}

export async function lastSync(owner) {
  return owner ? getMeta(owner, "last_sync") : null;
}
