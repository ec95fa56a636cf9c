// Family-doctor pages: forms with data-api post JSON through app.js's api() and show the answer.
// Import app.js under the same versioned URL as base.html, so it runs once per page.
const { api, personMessage } = await import(new URL("./app.js" + new URL(import.meta.url).search, import.meta.url));

function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === "submit") continue;
    if (el.name.endsWith("[]")) {
      const key = el.name.slice(0, -2);
      body[key] = body[key] || [];
      if ((el.type === "checkbox" && el.checked) || (el.type !== "checkbox" && el.value)) body[key].push(el.value);
      continue;
    }
    if (el.type === "checkbox") { body[el.name] = el.checked; continue; }
    const value = el.value.trim();
    if (value === "") continue;
    body[el.name] = el.type === "number" || el.dataset.number ? Number(value) : value;
  }
  return body;
}

function show(form, text, ok) {
  const out = form.querySelector("[data-result]");
  if (!out) return;
  out.hidden = false;
  out.textContent = text;
  out.className = "msg " + (ok ? "info" : "error");
}

/** No signal: a form that names an outbox kind is kept on the phone under its own client id
 *  (so a request that did reach the server is not stored twice) and uploaded later. */
async function keepOffline(form) {
  const owner = document.querySelector('meta[name="cc-owner"]')?.content;
  if (!owner) return false;
  const { enqueue } = await import(new URL("./offline/outbox.js", import.meta.url).href);
  const body = formBody(form);
  const id = body.client_visit_id;
  delete body.client_visit_id;
  await enqueue(owner, { kind: form.dataset.outbox, resident_id: form.dataset.resident, data: body, id,
    label: document.querySelector("h1")?.firstChild?.textContent?.trim() || "" });
  show(form, "没有网络：这条记录已保存在本机，有信号后自动上传（可在「今日工作」查看）", true);
  return true;
}

for (const form of document.querySelectorAll("form[data-api]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const data = await api(form.dataset.api, { method: form.dataset.method || "POST", body: formBody(form) });
      show(form, data.message || "已保存", true);
      if (form.dataset.reload) setTimeout(() => location.reload(), 1500);
    } catch (err) {
      if (err.code === "offline" && form.dataset.outbox && await keepOffline(form)) return;
      show(form, personMessage(err), false);
    } finally {
      button.disabled = false;
    }
  });
}

document.getElementById("print-card")?.addEventListener("click", () => window.print());
