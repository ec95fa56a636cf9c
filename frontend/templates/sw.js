{% if module %}// A module worker (Chromium, Safari 15+): it shares the outbox module with the pages.
import { syncNow } from "{{ sync_module }}";
{% endif %}/* CountyCare service worker, release {{ release }}.
 * Precaches the app shell under a versioned cache; a new release installs a new cache
 * and drops the old ones on activate. Pages: network first, the offline shell when the
 * network is gone. Static assets: cache first (their URLs carry the release).
 * Later capabilities (push, offline outbox) add their handlers below the shell's. */
const RELEASE = "{{ release }}";
const SHELL_CACHE = "cc-shell-" + RELEASE;
const OFFLINE_URL = "{{ offline_url }}";
const PRECACHE = {{ precache | tojson }};
const DAY_URL = "{{ day_url }}";
const STYLESHEET = {{ stylesheet | tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      // cache: "reload": never an hour-old copy from the HTTP cache under a new release.
      .then((cache) => cache.addAll(PRECACHE.map((u) => new Request(u, { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("cc-shell-") && k !== SHELL_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

/* No form ever lands on the browser's own (English) error page: a form posted without signal
 * gets a Chinese page that keeps every value typed, ready to send again. */
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function offlinePostPage(copy) {
  let fields = [];
  try { fields = [...(await copy.formData()).entries()].filter(([, v]) => typeof v === "string"); } catch (err) { fields = []; }
  const hidden = fields.map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join("");
  const shown = fields.filter(([k, v]) => v && !["csrf_token", "push_device", "client_visit_id"].includes(k))
    .map(([, v]) => `<li><div>${escapeHtml(v)}</div></li>`).join("");
  const back = copy.referrer && new URL(copy.referrer).origin === self.location.origin ? copy.referrer : "/";
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>没有网络 · 县域基层健康服务</title>
<link rel="stylesheet" href="${STYLESHEET}"></head><body>
<header class="bar"><a class="brand" href="/">县域健康</a></header><main>
<section class="card" id="offline-post"><h1>没有网络，这次提交没有发出</h1>
<p>您填写的内容都在下面，没有丢失。有信号后点「重新提交」即可；不要关闭本页。</p>
<form method="post" action="${escapeHtml(copy.url)}">${hidden}<button class="btn primary block" type="submit">重新提交</button></form>
${shown ? `<h2>您填写的内容</h2><ul class="list">${shown}</ul>` : ""}
<p><a class="btn block" href="${escapeHtml(back)}">返回原页面</a></p>
<p class="hint">家庭医生：随访和老年人评估请在「<a href="${DAY_URL}">今日工作</a>」中记录，没有信号也能保存在本机。</p>
</section></main></body></html>`;
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" } });
}

/* The doctor's pages without signal open the day's workspace (it renders from the phone's
 * own data); every other page gets the offline page, which says what works offline. */
function offlineFallback(url) {
  if (url.pathname === DAY_URL || url.pathname.startsWith("/team")) {
    return caches.match(DAY_URL, { cacheName: SHELL_CACHE }).then((hit) => hit || caches.match(OFFLINE_URL, { cacheName: SHELL_CACHE }));
  }
  return caches.match(OFFLINE_URL, { cacheName: SHELL_CACHE });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && request.mode === "navigate") {
    const copy = request.clone();
    event.respondWith(fetch(request).catch(() => offlinePostPage(copy)));
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => offlineFallback(url)));
    return;
  }
  if (url.pathname === "{{ rules_url }}") {
    // The rules data: fresh when online, the precached copy offline.
    event.respondWith(fetch(request).catch(() => caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true })));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(
      caches.match(request, { cacheName: SHELL_CACHE }).then((hit) => hit || fetch(request))
    );
  }
});

/* Logging out on a shared phone: every cache but the shell's (which holds nothing personal)
 * is dropped, and (below) the push subscription and its device token are forgotten.
 * The page waits for the reply on the MessageChannel port before it submits the form. */
async function forgetPersonalData() {
  const keys = await caches.keys();
  await Promise.all(keys.filter((k) => !k.startsWith("cc-shell-")).map((k) => caches.delete(k)));
  await forgetPushDevice();
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "logout") {
    const reply = event.ports && event.ports[0];
    event.waitUntil(forgetPersonalData()
      .catch((err) => console.warn("logout cleanup", err))
      .then(() => { if (reply) reply.postMessage({ type: "logged-out" }); }));
  }
});

/* ---- Web Push (notices) ----
 * This worker owns the IndexedDB "cc-push" (version 1, store "device", key "current"):
 * the device id and token the page hands over after subscribing, used to re-register
 * when the browser replaces the subscription (pushsubscriptionchange). */
const PUSH_DB = "cc-push";

function pushDb() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(PUSH_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("device");
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

async function pushDevice(value) {
  const db = await pushDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("device", value === undefined ? "readonly" : "readwrite");
    const store = tx.objectStore("device");
    const req = value === undefined ? store.get("current")
      : value === null ? store.delete("current") : store.put(value, "current");
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
  });
}

function applicationServerKey(base64url) {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - base64url.length % 4) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "push-device") {
    event.waitUntil(pushDevice(event.data.device || null));
  }
});

self.addEventListener("push", (event) => {
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch (err) { message = {}; }
  const title = message.title || "县域健康：您有一条新消息";
  event.waitUntil(self.registration.showNotification(title, {
    body: message.body || "点击查看详情",
    lang: "zh-CN",
    dir: "ltr",
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    tag: message.id || "cc-notice",
    requireInteraction: message.kind === "slot_offer",
    data: { url: message.url || "/notices", id: message.id || null, kind: message.kind || "" },
  }));
});

/** This device's push subscription and token are gone (logout): no personal push arrives. */
async function forgetPushDevice() {
  const subscription = await self.registration.pushManager.getSubscription();
  if (subscription) await subscription.unsubscribe();
  await pushDevice(null);
}

/** Mark the clicked notice read (authenticated by the device token, like resubscribe: the
 *  session may be gone) and tell open pages the new unread count. Returns the count or null. */
async function markNoticeRead(noticeId) {
  const device = await pushDevice();
  if (!noticeId || !device) return null;
  const resp = await fetch(`/api/push/notices/${encodeURIComponent(noticeId)}/read`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ device_id: device.device_id, token: device.token }),
  });
  if (!resp.ok) return null;
  const { unread } = await resp.json();
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const w of windows) w.postMessage({ type: "unread", unread });
  return unread;
}
// A module worker's functions are not globals: the click handler's work is reachable from
// the DevTools console (and the browser test) under this name.
self.markNoticeRead = markNoticeRead;

/** The notification's page (same origin only), marked read first: at most 1.5 s. */
async function openNotification(data) {
  let target = new URL((data && data.url) || "/notices", self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/notices", self.location.origin);
  const marked = markNoticeRead(data && data.id).catch(() => null);
  const unread = await Promise.race([marked, new Promise((r) => setTimeout(() => r(null), 1500))]);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const w of windows) {
    if (w.url === target.href && "focus" in w) return { target: target.href, unread, window: await w.focus() };
  }
  return { target: target.href, unread, window: await self.clients.openWindow(target.href) };
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openNotification(event.notification.data));
});

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const device = await pushDevice();
    if (!device) return;  // this browser was never subscribed through the settings page
    let subscription = event.newSubscription;
    if (!subscription) {
      let key = event.oldSubscription && event.oldSubscription.options.applicationServerKey;
      if (!key) {
        const resp = await fetch("/api/push/public-key", { credentials: "same-origin" });
        key = applicationServerKey((await resp.json()).public_key);
      }
      subscription = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    const resp = await fetch("/api/push/resubscribe", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ device_id: device.device_id, token: device.token, subscription: subscription.toJSON() }),
    });
    if (resp.ok) {
      const data = await resp.json();
      await pushDevice({ device_id: data.device_id, token: data.token });
    }
  })());
});

/* ---- Offline outbox ----
 * Background Sync (Chromium only): when the signal returns the browser wakes this worker,
 * which uploads the signed-in doctor's pending records (the outbox module decides whose).
 * A failure without signal is rethrown so the browser tries again later. */
self.addEventListener("sync", (event) => {
  if (event.tag !== "cc-outbox" || typeof syncNow !== "function") return;
  event.waitUntil(syncNow({ pushOnly: true }).catch((err) => {
    if (err && err.code === "offline") throw err;
  }));
});
