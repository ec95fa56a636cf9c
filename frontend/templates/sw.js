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
