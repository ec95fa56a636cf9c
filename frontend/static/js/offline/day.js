// The doctor's day, online or not: the team's residents from the phone's own copy, follow-ups,
// 65+ self-care assessments and phone-number edits saved to the outbox, sync status, and the
// server's verdicts replacing the phone's provisional ones.
import { byOwner, currentOwner, getMeta, offlineDb } from "./db.js";
import { KINDS, counts, discard, enqueue, entries, sent } from "./outbox.js";
import { SyncError, loadRules, syncNow, whoami } from "./sync.js";
import { ImpossibleReading, classify } from "./rules.js";

const $ = (id) => document.getElementById(id);
const view = $("view");
const state = { owner: null, rules: null, selfCare: null, residents: [], byId: new Map(), query: "" };
const WEEK = "日一二三四五六";

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) el.append(kid);
  return el;
}

/** 12月3日 周四 (with the year when it is not this year). */
export function cnDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  const wd = WEEK[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${y !== Number(today().slice(0, 4)) ? y + "年" : ""}${m}月${d}日 周${wd}`;
}

function cnTime(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false })
    .formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${cnDate(`${parts.year}-${parts.month}-${parts.day}`)} ${parts.hour}:${parts.minute}`;
}

/** The county's today (Asia/Shanghai), whatever the phone's zone. */
function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

const DISEASES = () => state.rules?.diseases || { hypertension: "高血压", diabetes: "2型糖尿病" };

// ---- status bar ---------------------------------------------------------------------
function say(text, ok = true, extra = null) {
  const msg = $("sync-msg");
  msg.hidden = !text;
  msg.className = "msg " + (ok ? "info" : "error");
  msg.replaceChildren(text || "", extra || "");
}

async function refreshStatus() {
  $("sync-net").textContent = navigator.onLine ? "在线" : "离线（没有信号）";
  const c = state.owner ? await counts(state.owner) : { pending: 0, refused: 0, aside: 0 };
  $("sync-pending").textContent = `待上传 ${c.pending} 条` + (c.refused ? ` · 被退回 ${c.refused} 条` : "")
    + (c.aside ? ` · 已损坏另存 ${c.aside} 条` : "");
  const last = state.owner ? await getMeta(state.owner, "last_sync") : null;
  $("sync-last").textContent = last ? `上次同步 ${cnTime(last)}` : "尚未同步";
  const held = state.residents.length;
  const limit = state.owner ? await getMeta(state.owner, "device_safe_residents") : null;
  $("size-warning").hidden = !(limit && held > limit);
  $("size-warning").textContent = `本机保存了 ${held} 位居民，超过建议的 ${limit} 位：手机可能变慢、存储可能不足，请联系中心按村分配居民。`;
}

async function runSync() {
  const button = $("sync-now");
  const bar = $("sync-progress");
  button.disabled = true;
  bar.hidden = false;
  bar.value = 0;
  try {
    const r = await syncNow({ onProgress: ({ phase, done, total }) => {
      bar.value = total ? done / total : 1;
      say(phase === "push" ? `正在上传 ${done}/${total} 条…` : `正在下载本团队居民…（${Math.round(100 * bar.value)}%）`);
    } });
    state.owner = r.who.owner;
    await askPersistentStorage();
    const p = r.pushed;
    const parts = [];
    if (p.stored + p.already_stored) parts.push(`已上传 ${p.stored + p.already_stored} 条，服务器已确认`);
    if (p.held) parts.push(`${p.held} 条的居民已不在本团队，已交中心核对`);
    if (p.refused) parts.push(`${p.refused} 条被退回，请查看并修改`);
    if (p.retry) parts.push(`${p.retry} 条稍后自动重试`);
    parts.push(`本机共有 ${r.pulled.residents} 位居民的资料`);
    say(parts.join("；"), !p.refused);
  } catch (err) {
    const login = err.code === "not_authenticated"
      ? h("a", { href: "/login?tab=staff", class: "btn block", text: "重新登录" }) : null;
    // Our own errors are Chinese; a browser's (IndexedDB, TypeError) never reaches a person.
    const text = err instanceof SyncError || /[\u4e00-\u9fff]/.test(String(err?.message || ""))
      ? err.message : "同步没有完成（本机浏览器出错），记录仍保存在本机，请稍后再试";
    say(text, false, login);
  } finally {
    button.disabled = false;
    bar.hidden = true;
    await load();
  }
}

async function askPersistentStorage() {
  const out = $("storage-state");
  if (!navigator.storage?.persist) return;
  const granted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  out.hidden = false;
  out.textContent = granted ? "本机已允许长期保存这些记录。" : "浏览器没有承诺长期保存本机记录：请每天有信号时同步一次。";
}

function iosHint() {
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent);
  const installed = navigator.standalone || matchMedia("(display-mode: standalone)").matches;
  $("ios-hint").hidden = !(ios && !installed);
}

// ---- data -----------------------------------------------------------------------------
/** Who is signed in, when the server can say: the phone's last user may be someone else,
 *  whose residents and counts must not show for a moment. Offline (or session expired): null. */
async function signedInOwner() {
  if (!navigator.onLine) return null;
  try {
    return (await whoami()).owner;
  } catch {
    return null;
  }
}

async function load() {
  state.owner = (await signedInOwner()) || (await currentOwner()) || null;
  state.rules = state.rules || await loadRules();
  state.residents = state.owner ? await byOwner("residents", state.owner) : [];
  state.byId = new Map(state.residents.map((r) => [r.id, r]));
  state.selfCare = state.owner ? await getMeta(state.owner, "self_care") : null;
  await refreshStatus();
  await render();
}

function firstDue(r) {
  return (r.due || []).map((d) => d.due).sort()[0] || "9999";
}

function matches(r, q) {
  if (!q) return true;
  return r.name.includes(q) || (r.village || "").includes(q) || (r.phone || "").endsWith(q);
}

// ---- views ----------------------------------------------------------------------------
async function render() {
  const m = location.hash.match(/^#r\/(.+)$/) || location.pathname.match(/^\/team\/patients\/([^/]+)/);
  if (!state.owner) {
    view.replaceChildren(h("p", { class: "card", text: "这部手机还没有下载过本团队的居民。请在有信号时登录并点「同步」，之后没有信号也能使用。" }),
      h("a", { class: "btn block", href: "/login?tab=staff", text: "登录" }));
    return;
  }
  if (m && state.byId.has(decodeURIComponent(m[1]))) return renderResident(state.byId.get(decodeURIComponent(m[1])));
  return renderHome();
}

function recordLine(rec, withName = true) {
  const who = state.byId.get(rec.resident_id)?.name || rec.label || "居民";
  const bits = [h("strong", { text: KINDS[rec.kind] || "记录" }), withName ? ` ${who}` : "", h("small", { text: cnTime(Date.parse(rec.made_at)) })];
  return h("div", { class: "stack" }, h("span", {}, ...bits));
}

function verdictText(v, kind) {
  if (!v) return "";
  if (kind === "elder_visit") return `自理能力 ${v.score} 分：${v.label}` + (v.next_due ? `，下次 ${cnDate(v.next_due)}` : "");
  if (kind === "resident_details") return v.phone ? `联系电话改为 ${v.phone}` : "已更新";
  return `${v.label}，下次随访不晚于 ${cnDate(v.next_due)}${v.refer ? "，需转诊" : ""}`;
}

function outboxItem(rec, withName = true) {
  const li = h("li", { class: rec.status === "refused" ? "warn" : "", "data-record": rec.id });
  const box = recordLine(rec, withName);
  if (rec.provisional) box.append(h("p", { class: "verdict provisional", text: `本机预判（以服务器为准）：${verdictText(rec.provisional, rec.kind)}` }));
  if (rec.status === "refused") {
    box.append(h("p", { class: "msg error", text: `被退回：${rec.answer?.message || "请核对后重新记录"}` }));
    const actions = h("div", { class: "record-actions" });
    if (rec.answer?.code === "stale_edit") {
      actions.append(
        h("button", { class: "btn", type: "button", text: "保留我的号码", onclick: async () => {
          await discard(state.owner, rec.id);
          await enqueue(state.owner, { kind: rec.kind, resident_id: rec.resident_id,
            data: { ...rec.data, base_version: rec.answer.current.version }, label: rec.label });
          await afterRecord("已按您的号码重新排队上传");
        } }),
        h("button", { class: "btn", type: "button", text: `采用服务器的号码 ${rec.answer.current.phone || "（空）"}`, onclick: async () => {
          await discard(state.owner, rec.id);
          await afterRecord("已采用服务器上的号码");
        } }));
    } else {
      actions.append(h("button", { class: "btn danger", type: "button", text: "放弃这条记录", onclick: async () => {
        if (!confirm("放弃后这条记录不会上传，也无法找回。确定放弃吗？")) return;
        await discard(state.owner, rec.id);
        await afterRecord("已放弃这条记录");
      } }));
    }
    box.append(actions);
  } else {
    box.append(h("small", { text: rec.status === "pending" && rec.answer ? "稍后自动重试上传" : "待上传" }));
  }
  li.append(box);
  return li;
}

function sentItem(rec, withName = true) {
  const li = h("li", { "data-sent": rec.id });
  const box = recordLine(rec, withName);
  const a = rec.answer || {};
  if (a.status === "held") {
    box.append(h("p", { class: "verdict changed", text: a.message || "该居民已不在本团队，记录已交中心核对" }));
  } else {
    const changed = rec.provisional && a.verdict && (rec.provisional.outcome || rec.provisional.grade) !== (a.verdict.outcome || a.verdict.grade);
    box.append(h("p", { class: "verdict" + (changed ? " changed" : ""), "data-verdict": "server",
      text: `服务器结论：${verdictText(a.verdict, rec.kind)}` }));
    if (changed) box.append(h("small", { text: `与本机预判（${verdictText(rec.provisional, rec.kind)}）不同，以服务器结论为准` }));
  }
  li.append(box);
  return li;
}

async function renderHome() {
  const [pending, done] = [await entries(state.owner), await sent(state.owner)];
  const c = await counts(state.owner);
  const search = h("input", { type: "search", id: "roster-search", placeholder: "搜索姓名、村名或电话后四位", value: state.query,
    "aria-label": "搜索居民", oninput: (e) => { state.query = e.target.value.trim(); drawRoster(); } });
  const roster = h("ul", { class: "list roster", id: "roster" });
  // Filters over the phone's own copy: they work the same with and without signal.
  state.filters = state.filters || { village: "", group: "", due: "" };
  const choose = (name, label, options) => h("label", { class: "filter" }, label,
    h("select", { name, id: `filter-${name}`, onchange: (e) => { state.filters[name] = e.target.value; drawRoster(); } },
      ...options.map(([value, text]) => h("option", { value, text, ...(state.filters[name] === value ? { selected: "" } : {}) }))));
  const villages = [...new Set(state.residents.map((r) => r.village))].sort((a, b) => a.localeCompare(b, "zh"));
  const filters = h("div", { class: "filters", id: "roster-filters" },
    choose("village", "村", [["", "全部村"], ...villages.map((v) => [v, v.replace(/卫生室$/, "")])]),
    choose("group", "人群", [["", "全部"], ["hypertension", "高血压"], ["diabetes", "2型糖尿病"], ["elder", "65岁及以上"]]),
    choose("due", "到期", [["", "不限"], ["week", "7天内到期"], ["overdue", "已逾期"]]));
  const inWeek = () => {
    const d = new Date(`${today()}T00:00:00+08:00`);
    d.setDate(d.getDate() + 7);
    return d.toISOString().slice(0, 10);
  };
  const passes = (r) => {
    const f = state.filters;
    if (f.village && r.village !== f.village) return false;
    if (f.group === "elder" ? r.age < 65 : f.group && !(r.conditions || []).includes(f.group)) return false;
    const first = firstDue(r);
    if (f.due === "overdue" && !(first < today())) return false;
    if (f.due === "week" && !(first <= inWeek())) return false;
    return true;
  };
  const drawRoster = () => {
    const list = state.residents.filter((r) => matches(r, state.query) && passes(r))
      .sort((a, b) => firstDue(a).localeCompare(firstDue(b)) || a.name.localeCompare(b.name, "zh"));
    roster.replaceChildren(...list.slice(0, 200).map((r) => h("li", {}, h("a", { href: `#r/${encodeURIComponent(r.id)}` },
      h("span", { class: "who" }, h("strong", { text: r.name }), h("span", { class: "hint", text: `${r.sex === "M" ? "男" : "女"} · ${r.age}岁 · ${r.village}` })),
      ...(r.due || []).slice(0, 2).map((d) => h("span", { class: d.due < today() ? "tag bad" : "tag warn", text: `${d.what} ${cnDate(d.due)}` }))))));
    if (!list.length) roster.append(h("li", { class: "empty", text: state.residents.length ? "没有找到符合条件的居民" : "还没有下载居民，请在有信号时点「同步」" }));
    if (list.length > 200) roster.append(h("li", { class: "empty", text: `还有 ${list.length - 200} 位，请输入姓名或村名搜索` }));
  };
  drawRoster();
  view.replaceChildren(
    h("h2", { text: "本机记录" }),
    h("ul", { class: "list", id: "outbox" }, pending.length ? pending.map((r) => outboxItem(r)) : h("li", { class: "empty", text: "没有待上传的记录" })),
    c.aside ? h("p", { class: "msg error", id: "aside-note", text: `有 ${c.aside} 条记录在本机已损坏，无法上传；已另存并报告中心，请联系中心核对。` }) : "",
    h("h2", { text: `本团队居民（${state.residents.length} 位）` }), search, filters, roster,
    done.length ? h("h2", { text: "最近上传（服务器结论）" }) : "",
    done.length ? h("ul", { class: "list", id: "sent" }, done.slice(0, 30).map((r) => sentItem(r))) : "");
}

function field(label, name, attrs = {}) {
  return h("label", {}, label, h("input", { name, type: "number", inputmode: "decimal", ...attrs }));
}

function followupForm(r) {
  const diseases = r.conditions.filter((d) => d in DISEASES());
  if (!diseases.length || !state.rules) return "";
  const form = h("form", { class: "card", id: "day-followup" });
  const fields = h("div");
  const select = h("select", { name: "disease", onchange: () => drawFields() }, diseases.map((d) => h("option", { value: d, text: DISEASES()[d] })));
  const drawFields = () => {
    const d = select.value;
    const danger = state.rules.sheet?.danger_symptoms?.[d] || [];
    fields.replaceChildren(
      h("div", { class: "pair" }, field("收缩压 mmHg", "systolic", { inputmode: "numeric" }), field("舒张压 mmHg", "diastolic", { inputmode: "numeric" })),
      d === "diabetes" ? h("div", { class: "pair" }, field("空腹血糖 mmol/L", "fasting_glucose", { step: "0.1" }), field("体温 ℃", "temperature", { step: "0.1" })) : "",
      field("心率 次/分", "heart_rate", { inputmode: "numeric" }),
      danger.length ? h("fieldset", { class: "checks" }, h("legend", { text: "危急症状" }),
        danger.map((s) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "danger_symptoms", value: s }), s))) : "",
      h("label", {}, "药物不良反应", h("select", { name: "adverse_reaction" },
        Object.entries(state.rules.adverse_reactions).map(([k, v]) => h("option", { value: k, text: v })))),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "new_complication" }), "并发症新发或加重"),
      h("label", {}, "用药情况", h("input", { name: "medication", maxlength: "500" })));
  };
  drawFields();
  const out = h("p", { class: "msg", role: "status", hidden: true });
  form.append(h("h3", { text: "记录随访" }), h("label", {}, "病种", select), fields, out,
    h("button", { class: "btn primary block", type: "submit", text: "保存随访（先存本机）" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const data = { disease: fd.get("disease"), danger_symptoms: fd.getAll("danger_symptoms"),
      adverse_reaction: fd.get("adverse_reaction") || "none", new_complication: fd.get("new_complication") === "on",
      visit_date: today() };
    for (const k of ["systolic", "diastolic", "fasting_glucose", "heart_rate", "temperature"]) {
      const v = (fd.get(k) || "").trim();
      if (v !== "") data[k] = Number(v);
    }
    const med = (fd.get("medication") || "").trim();
    if (med) data.medication = med;
    const c = r.cases.find((x) => x.disease === data.disease);
    let verdict;
    try {
      verdict = classify(state.rules, data.disease, data, { age: r.age, visit: data.visit_date, previousUncontrolled: !!c?.previous_uncontrolled });
    } catch (err) {
      out.hidden = false;
      out.className = "msg error";
      out.textContent = err instanceof ImpossibleReading ? err.message : "填写的内容有误，请核对";
      return;  // refused here by the same rules data the server uses: nothing is queued
    }
    await enqueue(state.owner, { kind: "followup", resident_id: r.id, data, label: r.name,
      provisional: { outcome: verdict.outcome, label: verdict.label, next_due: verdict.next_due, refer: verdict.refer } });
    form.reset();
    await afterRecord(`已保存在本机：${verdict.label}（本机预判，以服务器为准）`);
  });
  return form;
}

function elderForm(r) {
  const sc = state.selfCare;
  if (r.age < (state.rules?.elder_age || 65) || !sc) return "";
  const total = h("strong", { id: "self-care-total", text: "0 分" });
  const form = h("form", { class: "card", id: "day-elder" });
  const score = () => sc.items.reduce((sum, it) => sum + Number(form.elements[it.key].value), 0);
  const grade = (s) => sc.grades[sc.bands.find(([top]) => s <= top)[1]];
  const update = () => { const s = score(); total.textContent = `${s} 分 · ${grade(s)}`; };
  form.append(h("h3", { text: "老年人生活自理能力评估" }),
    ...sc.items.map((it) => h("label", {}, it.label, h("select", { name: it.key, onchange: update },
      it.scores.map((s, i) => h("option", { value: String(s), text: `${sc.levels[i]}（${s}分）` }))))),
    h("p", {}, "合计：", total),
    h("button", { class: "btn primary block", type: "submit", text: "保存评估（先存本机）" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const s = score();
    const g = sc.bands.find(([top]) => s <= top)[1];
    await enqueue(state.owner, { kind: "elder_visit", resident_id: r.id, label: r.name,
      data: { score: s, visit_date: today() }, provisional: { grade: g, label: sc.grades[g], score: s, next_due: null } });
    await afterRecord(`已保存在本机：自理能力 ${s} 分，${sc.grades[g]}（本机预判，以服务器为准）`);
  });
  update();
  return form;
}

function phoneForm(r) {
  const form = h("form", { class: "card", id: "day-phone" },
    h("h3", { text: "修改联系电话" }),
    h("label", {}, "手机号", h("input", { name: "phone", type: "tel", inputmode: "numeric", maxlength: "11", value: r.phone || "" })),
    h("button", { class: "btn block", type: "submit", text: "保存（先存本机）" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const phone = form.elements.phone.value.trim();
    if (phone && !/^1[3-9]\d{9}$/.test(phone)) { alertIn(form, "手机号应为11位数字，以1开头"); return; }
    await enqueue(state.owner, { kind: "resident_details", resident_id: r.id, label: r.name,
      data: { phone: phone || null, base_version: r.version || 0 } });
    await afterRecord("已保存在本机，上传后生效");
  });
  return form;
}

function alertIn(form, text) {
  let p = form.querySelector(".msg.error");
  if (!p) { p = h("p", { class: "msg error", role: "alert" }); form.append(p); }
  p.textContent = text;
}

async function renderResident(r) {
  const mine = (await entries(state.owner)).filter((x) => x.resident_id === r.id);
  const done = (await sent(state.owner)).filter((x) => x.resident_id === r.id);
  const cases = r.cases.map((c) => h("li", {}, h("div", { class: "stack" },
    h("strong", { text: DISEASES()[c.disease] || c.disease }),
    h("span", { text: c.last_visit ? `上次 ${cnDate(c.last_visit)}${c.last_bp ? ` 血压 ${c.last_bp[0]}/${c.last_bp[1]}` : ""} · ${state.rules?.outcomes?.[c.last_outcome] || ""}` : "还没有随访" }),
    h("small", { text: `下次随访 ${cnDate(c.next_due)} · 本年 ${c.visits_this_year}/${state.rules?.min_followups_per_year || 4} 次` }))));
  view.replaceChildren(
    h("p", {}, h("a", { href: "#", text: "‹ 返回名单" })),
    h("h2", { id: "resident-name", text: r.name }, h("small", { text: ` ${r.sex === "M" ? "男" : "女"} · ${r.age}岁 · ${r.village}` })),
    r.phone ? h("a", { class: "btn block", href: `tel:${r.phone}`, text: `拨打 ${r.phone}` }) : h("p", { class: "hint", text: "没有登记电话" }),
    h("p", {}, ...r.conditions.map((d) => h("span", { class: "tag", text: DISEASES()[d] || d }))),
    (r.due || []).length ? h("p", { class: "msg info", text: "到期：" + r.due.map((d) => `${d.what} ${cnDate(d.due)}`).join("；") }) : "",
    r.elder ? h("p", { class: "hint", text: `老年人台账：${r.elder.score} 分 · 上次评估 ${cnDate(r.elder.last_visit)}` }) : "",
    cases.length ? h("ul", { class: "list" }, cases) : "",
    mine.length ? h("h3", { text: "本机记录（待上传）" }) : "", mine.length ? h("ul", { class: "list" }, mine.map((x) => outboxItem(x, false))) : "",
    done.length ? h("h3", { text: "已上传（服务器结论）" }) : "", done.length ? h("ul", { class: "list" }, done.map((x) => sentItem(x, false))) : "",
    followupForm(r), elderForm(r), phoneForm(r));
}

async function afterRecord(text) {
  say(text, true);
  await load();
  if (navigator.onLine) await runSync();
}

// ---- wiring -------------------------------------------------------------------------
$("sync-now").addEventListener("click", () => runSync());
addEventListener("online", () => { refreshStatus(); runSync(); });
addEventListener("offline", () => refreshStatus());
addEventListener("hashchange", () => render());
iosHint();
await load();
if (navigator.onLine) await runSync();
