// Sync: push every pending record of the signed-in person first, then pull the team's
// changes after the stored cursor, page by page (the cursor is saved after each page, so
// a dropped first sync resumes where it stopped). Used by the pages and the service worker.
import { DEVICE, deviceId, forgetResidents, getMeta, offlineDb, setCurrentOwner, setMeta } from "./db.js";
import { applyAnswers, counts, entries } from "./outbox.js";
import { RULES_URL } from "./rules.js";

export const BATCH = 50;
const RESIDENT_DATA_DAYS = 7;

export class SyncError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

async function request(path, { method = "GET", body, csrf } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  let resp;
  try {
    resp = await fetch(path, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new SyncError("没有网络，记录仍保存在本机，有网络后会自动上传", "offline");
  }
  let data = null;
  if ((resp.headers.get("Content-Type") || "").includes("json")) {
    try { data = await resp.json(); } catch { data = null; }
  }
  if (resp.status === 401) {
    throw new SyncError("登录已过期，请重新登录；未上传的记录仍保存在本机", "not_authenticated");
  }
  if (!resp.ok) {
    throw new SyncError(data?.error?.message || "服务器暂时无法处理，请稍后再同步", data?.error?.code || "http_" + resp.status);
  }
  return data;
}

/** Who is signed in online (and so whose records may be uploaded). */
export async function whoami() {
  const who = await request("/api/sync/whoami");
  await setCurrentOwner(who.owner);
  return who;
}

/** Upload the owner's pending records, BATCH per request; returns the answers' tally. */
export async function push(who, { onProgress } = {}) {
  const tally = { stored: 0, already_stored: 0, held: 0, refused: 0, retry: 0, requests: 0 };
  const device = await deviceId();
  const todo = (await entries(who.owner)).filter((r) => r.status !== "refused");
  for (let i = 0; i < todo.length; i += BATCH) {
    const batch = todo.slice(i, i + BATCH);
    const records = batch.map((r) => ({ id: r.id, kind: r.kind, resident_id: r.resident_id, made_at: r.made_at, data: r.data }));
    const answer = await request("/api/sync/records", { method: "POST", csrf: who.csrf_token, body: { device_id: device, records } });
    tally.requests += 1;
    const got = await applyAnswers(who.owner, answer.results);
    for (const k of Object.keys(got)) tally[k] = (tally[k] || 0) + got[k];
    onProgress?.({ phase: "push", done: Math.min(i + BATCH, todo.length), total: todo.length });
  }
  return tally;
}

/** Download the team's changes after the stored cursor; resumable page by page. */
export async function pull(who, { onProgress } = {}) {
  const db = await offlineDb();
  let after = (await getMeta(who.owner, "cursor")) || 0;
  const start = after;
  let page;
  do {
    page = await request(`/api/sync/changes?after=${after}`);
    if (page.owner !== who.owner) throw new SyncError("登录的账号已变化，请重新打开本页", "owner_changed");
    const tx = db.transaction(["residents", "meta"], "readwrite");
    const store = tx.objectStore("residents");
    for (const r of page.residents) store.put({ ...r, owner: who.owner });
    for (const id of page.removed) store.delete([who.owner, id]);
    tx.objectStore("meta").put(page.next_after, [who.owner, "cursor"]);
    tx.objectStore("meta").put(page.device_safe_residents, [who.owner, "device_safe_residents"]);
    tx.objectStore("meta").put(page.today, [who.owner, "server_today"]);
    if (page.self_care) tx.objectStore("meta").put(page.self_care, [who.owner, "self_care"]);
    await tx.done;
    after = page.next_after;
    onProgress?.({ phase: "pull", done: after - start, total: Math.max(1, page.head - start) });
  } while (page.more);
  await saveRules();
  const held = await db.countFromIndex("residents", "by-owner", who.owner);
  await setMeta(who.owner, "resident_count", held);
  return { residents: held, cursor: after };
}

/** The follow-up rules data for offline use (the same file the server reads). */
export async function saveRules() {
  try {
    const resp = await fetch(RULES_URL, { credentials: "same-origin" });
    if (resp.ok) await setMeta(DEVICE, "rules", await resp.json());
  } catch { /* offline: the copy kept last time stays */ }
}

export async function loadRules() {
  try {
    const resp = await fetch(RULES_URL, { credentials: "same-origin" });  // the worker answers offline
    if (resp.ok) return await resp.json();
  } catch { /* fall back to the copy in IndexedDB */ }
  return getMeta(DEVICE, "rules");
}

function deviceLabel() {
  const ua = typeof navigator === "undefined" ? "" : navigator.userAgent;
  const os = /iPhone|iPad/.test(ua) ? "苹果手机" : /Android/.test(ua) ? "安卓手机" : "电脑";
  const browser = /MicroMessenger/.test(ua) ? "微信" : /CriOS|Chrome|Chromium/.test(ua) ? "Chrome" : /Safari/.test(ua) ? "Safari" : /Firefox/.test(ua) ? "Firefox" : "浏览器";
  return `${os} · ${browser}`;
}

async function report(who, lastSyncAt) {
  const c = await counts(who.owner);
  const residents = (await getMeta(who.owner, "resident_count")) || 0;
  await request("/api/sync/device", { method: "POST", csrf: who.csrf_token, body: {
    device_id: await deviceId(), pending: c.pending, refused: c.refused, set_aside: c.aside,
    residents, last_sync: lastSyncAt ? new Date(lastSyncAt).toISOString() : null, label: deviceLabel() } });
}

let running = null;

/** One sync at a time per page: push, then pull, then report. */
export function syncNow(options = {}) {
  if (!running) {
    running = (async () => {
      const who = await whoami();
      if (who.role !== "doctor") throw new SyncError("只有家庭医生团队成员的手机需要同步", "not_a_doctor");
      const pushed = await push(who, options);
      const pulled = options.pushOnly ? null : await pull(who, options);
      const at = Date.now();
      await setMeta(who.owner, "last_sync", at);
      await report(who, at).catch(() => {});  // the report is advisory; the records are safe
      return { who, pushed, pulled, at };
    })().finally(() => { running = null; });
  }
  return running;
}

/** At app open: drop residents' data kept 7 days without an online login (a lost phone). */
export async function expireStaleResidentData(now = Date.now()) {
  const db = await offlineDb();
  const keys = await db.getAllKeys("meta");
  const owners = new Set(keys.map((k) => k[0]).filter((o) => o !== DEVICE));
  const dropped = [];
  for (const owner of owners) {
    const last = await getMeta(owner, "last_online_login");
    if (last && now - last > RESIDENT_DATA_DAYS * 86400e3) {
      if (await forgetResidents(owner)) dropped.push(owner);
    }
  }
  return dropped;
}
