// CountyCare page script: service worker, elder mode, network status, JSON helper.
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";

export const ELDER_KEY = "cc-elder-mode";

/** JSON request with the CSRF token; throws an Error carrying the API's Chinese message. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = meta("csrf-token");
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = resp.headers.get("Content-Type")?.includes("json") ? await resp.json() : null;
  if (!resp.ok) {
    const err = new Error(data?.error?.message || "网络或服务出错，请稍后再试");
    err.code = data?.error?.code || "http_" + resp.status;
    err.status = resp.status;
    throw err;
  }
  return data;
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
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (err) {
    console.warn("service worker not registered", err);
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

document.querySelectorAll('form[action="/logout"]').forEach((form) =>
  form.addEventListener("submit", (event) => {
    if (form.dataset.done) return;
    event.preventDefault();
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
  .then((m) => { m.bind(api); return m; });
if (document.getElementById("push-enable")) pushModule().then((m) => m.initSettings());
// The unread badges (header, home tile) are rendered by the server.
