/* CountyCare service worker, release {{ release }}.
 * Precaches the app shell under a versioned cache; a new release installs a new cache
 * and drops the old ones on activate. Pages: network first, the offline shell when the
 * network is gone. Static assets: cache first (their URLs carry the release).
 * Later capabilities (push, offline outbox) add their handlers below the shell's. */
const RELEASE = "{{ release }}";
const SHELL_CACHE = "cc-shell-" + RELEASE;
const OFFLINE_URL = "{{ offline_url }}";
const PRECACHE = {{ precache | tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then((cache) => cache.addAll(PRECACHE))
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

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() => caches.match(OFFLINE_URL, { cacheName: SHELL_CACHE }))
    );
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(
      caches.match(request, { cacheName: SHELL_CACHE }).then((hit) => hit || fetch(request))
    );
  }
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "logout") {
    // Nothing personal is cached by the shell; runtime caches of later features are cleared here.
    event.waitUntil(caches.keys().then((keys) => Promise.all(
      keys.filter((k) => !k.startsWith("cc-shell-")).map((k) => caches.delete(k)))));
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

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  let target = new URL((event.notification.data && event.notification.data.url) || "/notices", self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/notices", self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    for (const w of windows) {
      if (w.url === target.href && "focus" in w) return w.focus();
    }
    return self.clients.openWindow(target.href);
  }));
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
