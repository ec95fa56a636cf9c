// Web Push on this device: subscribe / unsubscribe from settings, the unread badge, and
// `offerPush()` for flows where asking makes sense (e.g. right after booking).
// It does not import app.js (that URL carries the release; a second copy would run twice):
// app.js hands its `api` and `personMessage` helpers over with `bind(api, personMessage)`.
let api = async () => { throw new Error("push.js: bind(api) first"); };

let personMessage = (err) => (/[\u4e00-\u9fff]/.test(String(err?.message || ""))
  ? String(err.message) : "操作没有成功，请稍后再试");

export function bind(apiHelper, messageHelper) { api = apiHelper; personMessage = messageHelper; }

const DEVICE_KEY = "cc-push-device"; // set while this browser is subscribed (the token lives in the SW)

/** The server's device id: the first 32 hex digits of SHA-256(endpoint). */
async function deviceIdOf(subscription) {
  if (!subscription) return null;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(subscription.endpoint));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 32);
}

async function currentSubscription() {
  return (await navigator.serviceWorker.ready).pushManager.getSubscription();
}

export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window
    && !/MicroMessenger/i.test(navigator.userAgent);
}

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - base64url.length % 4) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function tellWorker(device) {
  const reg = await navigator.serviceWorker.ready;
  reg.active?.postMessage({ type: "push-device", device });
}

/** Ask for permission (only ever from a tap) and register this browser's subscription. */
export async function enablePush() {
  if (!pushSupported()) throw new Error("此浏览器不支持推送通知，请在「消息」中查看通知");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error("您没有允许通知。如需开启，请在浏览器的网站设置中允许本站发送通知");
  }
  const reg = await navigator.serviceWorker.ready;
  const { public_key } = await api("/api/push/public-key");
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(public_key) });
  }
  const device = await api("/api/push/subscriptions", { method: "POST", body: sub.toJSON() });
  localStorage.setItem(DEVICE_KEY, device.device_id);
  await tellWorker({ device_id: device.device_id, token: device.token });
  return device;
}

export async function disablePush() {
  const sub = await currentSubscription();
  const deviceId = await deviceIdOf(sub);
  if (deviceId) {
    try { await api(`/api/push/subscriptions/${deviceId}`, { method: "DELETE" }); }
    catch (err) { if (err.status !== 404) throw err; }
  }
  if (sub) await sub.unsubscribe();
  localStorage.removeItem(DEVICE_KEY);
  await tellWorker(null);
}

async function renderDevices(list) {
  const { devices } = await api("/api/push/subscriptions");
  const mine = pushSupported() ? await deviceIdOf(await currentSubscription()) : null;
  list.replaceChildren();
  if (!devices.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "还没有设备开启通知";
    list.append(li);
  }
  for (const d of devices) {
    const li = document.createElement("li");
    const text = document.createElement("div");
    text.textContent = d.label + (d.device_id === mine ? "（这台手机）" : "");
    const small = document.createElement("small");
    small.textContent = "开启于 " + new Date(d.created_at).toLocaleDateString("zh-CN");
    text.append(small);
    const stop = document.createElement("button");
    stop.type = "button";
    stop.className = "btn";
    stop.textContent = "停止推送";
    stop.dataset.deviceId = d.device_id;
    stop.addEventListener("click", async () => {
      stop.disabled = true;
      if (d.device_id === mine) await disablePush();
      else await api(`/api/push/subscriptions/${d.device_id}`, { method: "DELETE" });
      await initSettings();
    });
    li.append(text, stop);
    list.append(li);
  }
}

/** The settings page's "手机通知" card. */
export async function initSettings() {
  const enable = document.getElementById("push-enable");
  const disable = document.getElementById("push-disable");
  const status = document.getElementById("push-status");
  const list = document.getElementById("push-devices");
  if (!enable || !list) return;
  const say = (text) => { status.textContent = text; status.hidden = !text; };
  try { await renderDevices(list); } catch (err) { say(personMessage(err)); }
  if (!pushSupported()) {
    say("此浏览器不支持推送通知（如微信内置浏览器），通知会保存在「消息」中。");
    return;
  }
  const on = Notification.permission === "granted" && Boolean(await currentSubscription());
  enable.hidden = Boolean(on);
  disable.hidden = !on;
  if (Notification.permission === "denied") say("您已在浏览器中禁止本站通知，可在浏览器的网站设置中重新允许。");
  if (!enable.dataset.wired) {
    enable.dataset.wired = "1";
    enable.addEventListener("click", async () => {
      enable.disabled = true;
      try { await enablePush(); say("已开启，这台手机会收到通知。"); }
      catch (err) { say(personMessage(err)); }
      enable.disabled = false;
      await initSettings();
    });
    disable.addEventListener("click", async () => {
      disable.disabled = true;
      try { await disablePush(); say("已关闭这台手机的通知，消息仍会保存在「消息」中。"); }
      catch (err) { say(personMessage(err)); }
      disable.disabled = false;
      await initSettings();
    });
  }
}

/** After something worth being reminded of (a booking): offer push once, never on load. */
export function offerPush(container) {
  if (!pushSupported() || Notification.permission !== "default" || localStorage.getItem(DEVICE_KEY)) return;
  const card = document.createElement("div");
  card.className = "card";
  const p = document.createElement("p");
  p.textContent = "要在就诊前一天收到手机提醒吗？夜间不打扰，所有通知也会保存在「消息」中。";
  const yes = document.createElement("button");
  yes.type = "button";
  yes.className = "btn primary block";
  yes.textContent = "开启提醒";
  yes.addEventListener("click", async () => {
    try { await enablePush(); p.textContent = "已开启。"; yes.remove(); }
    catch (err) { p.textContent = personMessage(err); }
  });
  card.append(p, yes);
  container.append(card);
}
