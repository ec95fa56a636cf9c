// CountyCare page script: service worker, elder mode, network status, JSON helper.
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";

export const ELDER_KEY = "cc-elder-mode";

/** JSON request with the CSRF token; throws an Error carrying the API's Chinese message. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = meta("csrf-token");
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    // The browser's own text ("Failed to fetch") never reaches a person.
    const err = new Error("没有网络，未能提交。请有信号后再试，填写的内容仍在本页");
    err.code = "offline";
    err.status = 0;
    throw err;
  }
  let data = null;
  if (resp.headers.get("Content-Type")?.includes("json")) {
    try { data = await resp.json(); } catch { data = null; }
  }
  if (!resp.ok) {
    const err = new Error(data?.error?.message || "网络或服务出错，请稍后再试");
    err.code = data?.error?.code || "http_" + resp.status;
    err.status = resp.status;
    throw err;
  }
  return data;
}

/** What a person reads about an error: our Chinese message, never a browser's English one. */
export function personMessage(err) {
  const text = err && err.message ? String(err.message) : "";
  return /[\u4e00-\u9fff]/.test(text) ? text : "操作没有成功（浏览器或网络出错），请稍后再试";
}

function applyElderMode() {
  // The cookie gives the server-rendered first paint; localStorage is this device's memory.
  const stored = localStorage.getItem(ELDER_KEY);
  const cookieOn = document.documentElement.classList.contains("elder");
  if (stored !== null && (stored === "1") !== cookieOn) {
    document.documentElement.classList.toggle("elder", stored === "1");
    document.cookie = `cc_elder=${stored}; path=/; max-age=${5 * 365 * 86400}; samesite=lax`;
  }
  const form = document.getElementById("elder-form");
  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const on = !document.documentElement.classList.contains("elder");
      localStorage.setItem(ELDER_KEY, on ? "1" : "0");
      document.cookie = `cc_elder=${on ? 1 : 0}; path=/; max-age=${5 * 365 * 86400}; samesite=lax`;
      document.documentElement.classList.toggle("elder", on);
      const btn = document.getElementById("elder-toggle");
      btn.textContent = on ? "关闭长者模式" : "开启长者模式";
      btn.setAttribute("aria-pressed", String(on));
      form.querySelector('input[name="on"]').value = on ? "0" : "1";
    });
  }
}

function watchNetwork() {
  const bar = document.getElementById("net-status");
  const update = () => { if (bar) bar.hidden = navigator.onLine; };
  addEventListener("online", () => {
    update();
    if (document.getElementById("offline")) location.reload();
  });
  addEventListener("offline", update);
  update();
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  // A module worker shares the outbox with the pages (Background Sync); a browser without
  // module workers gets the classic one (the pages upload on open, reconnect and the button).
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/", type: "module", updateViaCache: "none" });
  } catch (err) {
    try {
      await navigator.serviceWorker.register("/sw.js?classic=1", { scope: "/", updateViaCache: "none" });
    } catch (err2) {
      console.warn("service worker not registered", err2);
    }
  }
}

applyElderMode();
watchNetwork();
registerServiceWorker();
/** Tell the service worker to forget this device's push subscription and personal caches;
 *  resolves when it is done (or after 2 s: logging out never waits on a stuck worker). */
async function workerLogout() {
  if (!("serviceWorker" in navigator)) return;
  const reg = await navigator.serviceWorker.getRegistration();
  const worker = reg?.active || navigator.serviceWorker.controller;
  if (!worker) return;
  await Promise.race([
    new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = resolve;
      worker.postMessage({ type: "logout" }, [channel.port2]);
    }),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
}

/** The doctor's offline outbox (loaded only for doctors, or on the day page). */
const offlineModule = (name) => import(new URL(`./offline/${name}.js`, import.meta.url).href);
const offlineOwner = () => meta("cc-owner");

/** Logging out with records not yet uploaded is refused (they would sit unseen on the
 *  phone); with nothing pending the residents' data kept on the phone is removed. */
async function offlineLogoutCheck(form) {
  const { currentOwner, forgetResidents, setCurrentOwner } = await offlineModule("db");
  const { counts } = await offlineModule("outbox");
  const owner = offlineOwner() || await currentOwner();
  if (!owner) return true;
  const c = await counts(owner);
  if (c.pending + c.refused > 0) {
    let warn = document.getElementById("logout-refused");
    if (!warn) {
      warn = document.createElement("p");
      warn.id = "logout-refused";
      warn.className = "msg error";
      warn.setAttribute("role", "alert");
      document.getElementById("main").prepend(warn);
    }
    warn.textContent = `本机还有 ${c.pending + c.refused} 条记录没有上传，现在退出它们会留在这部手机上、无人处理。`
      + "请先在「今日工作」点「同步」，全部上传后再退出。";
    warn.scrollIntoView();
    return false;
  }
  await forgetResidents(owner);
  await setCurrentOwner(null);
  const field = form.querySelector('input[name="csrf_token"]');
  if (field && !field.value) {  // the day page is a shell cached for offline: ask for the token
    try { field.value = (await api("/api/sync/whoami")).csrf_token; } catch { /* the server says why */ }
  }
  return true;
}

document.querySelectorAll('form[action="/logout"]').forEach((form) =>
  form.addEventListener("submit", async (event) => {
    if (form.dataset.done) return;
    event.preventDefault();
    if (!(await offlineLogoutCheck(form).catch(() => true))) return;
    // The server removes this device's subscription too (also without JS, by its cookie).
    const field = form.querySelector('input[name="push_device"]');
    if (field) field.value = localStorage.getItem("cc-push-device") || "";
    localStorage.removeItem("cc-push-device");
    workerLogout().catch(() => {}).finally(() => { form.dataset.done = "1"; form.submit(); });
  }));

/** The header's unread badge (also updated when a notification is clicked). */
export function setUnread(count) {
  const badge = document.getElementById("header-unread");
  if (!badge) return;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = !count;
  badge.parentElement.setAttribute("aria-label", count ? `消息，${count} 条未读` : "消息");
}

navigator.serviceWorker?.addEventListener("message", (event) => {
  if (event.data?.type === "unread" && Number.isInteger(event.data.unread)) setUnread(event.data.unread);
});

// Web Push settings and the unread badge (loaded only where used).
const pushModule = () => import(new URL(`./push.js?v=${meta("release")}`, import.meta.url).href)
  .then((m) => { m.bind(api, personMessage); return m; });
if (document.getElementById("push-enable")) pushModule().then((m) => m.initSettings());
// The unread badges (header, home tile) are rendered by the server.

// A doctor's phone uploads what it holds whenever a page opens online and when the signal
// returns (push before pull; the day page shows the details).
async function uploadPending() {
  if (!navigator.onLine || document.getElementById("day")) return;  // the day page syncs itself
  const { setCurrentOwner } = await offlineModule("db");
  await setCurrentOwner(offlineOwner());
  const { counts } = await offlineModule("outbox");
  const c = await counts(offlineOwner());
  if (!c.pending) return;
  const { syncNow } = await offlineModule("sync");
  await syncNow({ pushOnly: true });
}
if (offlineOwner()) {
  uploadPending().catch(() => {});
  addEventListener("online", () => uploadPending().catch(() => {}));
}
// A lost phone should not carry a village's records for ever: residents' data kept 7 days
// without an online login is removed when the app next opens (unsent records stay).
indexedDB.databases?.().then((dbs) => dbs.some((d) => d.name === "cc-offline")
  && offlineModule("sync").then((m) => m.expireStaleResidentData())).catch(() => {});
