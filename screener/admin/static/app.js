// The supervisor page: plain JavaScript, no build step, no third-party code. Every piece of data comes
// from /api/v1/ with the token entered once per browser session (sessionStorage). Data is put in the page
// with textContent only (never as HTML).
"use strict";

const TOKEN_KEY = "screener.token";
const ROLES = ["viewer", "supervisor", "compliance", "admin"];
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MAX_LIVE_ROWS = 100;
const REFRESH_MS = 5000;

const $ = (id) => document.getElementById(id);
let caller = null;
let refreshTimer = null;
let feedAbort = null;
let campaigns = {};
let configVersion = null;
let reviewed = null;

// ---- API ----------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, body, headers) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const init = { method, headers: Object.assign({ Authorization: `Bearer ${token}` }, headers || {}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(path, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401) { signOut("Your token was refused: " + ((data && data.detail) || "unauthorized")); }
  if (!resp.ok) { throw new ApiError(resp.status, data); }
  return data;
}

// ---- small DOM helpers --------------------------------------------------------------------------------

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) { node.textContent = String(text); }
  if (className) { node.className = className; }
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) { td.appendChild(cell); } else { td.textContent = cell === null || cell === undefined ? "" : String(cell); }
    tr.appendChild(td);
  }
  return tr;
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = el("td", emptyText, "muted");
    td.colSpan = columns;
    tr.appendChild(td);
    tbody.appendChild(tr);
    return;
  }
  for (const r of rows) { tbody.appendChild(r); }
}

function age(seconds) {
  if (seconds === null || seconds === undefined) { return "never"; }
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  if (d) { return `${d} d ${h} h ago`; }
  if (h) { return `${h} h ${m} min ago`; }
  return `${m} min ago`;
}

function percent(rate) { return `${(rate * 100).toFixed(1)} %`; }

function reasonsText(list) { return (list || []).map((r) => `${r.code} ${r.count}`).join(", ") || "-"; }

// ---- sign in / out ------------------------------------------------------------------------------------

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    caller = await api("GET", "/api/v1/whoami");
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(e.status === 401 ? "That token is not valid (unknown or revoked)." : `Sign-in failed: ${e.message}`);
    return;
  }
  $("caller").textContent = `${caller.name} (${caller.role})`;
  $("whoami").hidden = false;
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("editor").hidden = ROLES.indexOf(caller.role) < ROLES.indexOf("supervisor");
  await refresh();
  refreshTimer = setInterval(refresh, REFRESH_MS);
  startFeed();
}

function showLogin(message) {
  $("login").hidden = false;
  $("dashboard").hidden = true;
  $("whoami").hidden = true;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  caller = null;
  if (refreshTimer) { clearInterval(refreshTimer); refreshTimer = null; }
  if (feedAbort) { feedAbort.abort(); feedAbort = null; }
  showLogin(message);
}

// ---- periodic data ------------------------------------------------------------------------------------

async function refresh() {
  try {
    const [status, stats, camps] = await Promise.all([
      api("GET", "/api/v1/status"), api("GET", "/api/v1/stats"), api("GET", "/api/v1/campaigns")]);
    showStatus(status);
    showStats(stats);
    showCampaignsForEditing(camps);
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (caller) { $("updated").textContent = `update failed: ${e.message}`; }
  }
}

function showStatus(status) {
  configVersion = status.config.version;
  $("config-version").textContent = status.config.version;
  const last = status.config.last_reload;
  $("last-reload").textContent = last === null ? "no reload since start"
    : last.ok ? `last reload ${last.at}: loaded ${last.version}${last.changed ? "" : " (unchanged)"}`
      : `last reload ${last.at}: REFUSED, ${last.error}`;
  $("last-reload").className = last && !last.ok ? "error small" : "muted";
  $("screeners-alive").textContent = String(status.screeners.length);
  $("screeners").replaceChildren(...status.screeners.map((s) =>
    el("li", `${s.host} pid ${s.pid}, config ${s.config_version}${s.config_version !== status.config.version ? " (differs)" : ""}`)));
  fill($("lists").querySelector("tbody"), status.lists.map((l) => row([
    l.name, l.kind, l.count.toLocaleString(), l.imported_at ? age(l.age_s) : "never",
    l.max_age_days ? `${l.max_age_days} days` : "-",
    l.stale === null ? "-" : el("span", l.stale ? "STALE" : "ok", `badge ${l.stale ? "stale" : "fresh"}`),
  ])), "no lists configured", 6);
}

function showStats(stats) {
  $("opt-outs-today").textContent = String(stats.opt_outs_today);
  const names = new Set([...Object.keys(stats.hour.campaigns), ...Object.keys(stats.day.campaigns)]);
  const zero = { allowed: 0, blocked: 0, opt_outs: 0, top_reasons: [] };
  fill($("campaigns").querySelector("tbody"), [...names].sort().map((name) => {
    const h = stats.hour.campaigns[name] || zero, d = stats.day.campaigns[name] || zero;
    return row([name, h.allowed, h.blocked, reasonsText(h.top_reasons), d.allowed, d.blocked,
      reasonsText(d.top_reasons), d.opt_outs]);
  }), "no live decisions in the last day", 8);
  const regions = {};
  for (const r of stats.day.regions) { regions[r.region] = { day: r }; }
  for (const r of stats.hour.regions) { (regions[r.region] = regions[r.region] || {}).hour = r; }
  const none = { allowed: 0, blocked: 0, block_rate: 0 };
  fill($("regions").querySelector("tbody"), Object.keys(regions).sort().map((name) => {
    const h = regions[name].hour || none, d = regions[name].day || none;
    return row([name, h.allowed, h.blocked, el("span", percent(h.block_rate), h.block_rate > 0.5 ? "rate-high" : ""),
      d.allowed, d.blocked, el("span", percent(d.block_rate), d.block_rate > 0.5 ? "rate-high" : "")]);
  }), "no live decisions in the last day", 7);
}

// ---- live decisions (server-sent events read with fetch, so the token goes in a header) -----------------

async function startFeed() {
  if (feedAbort) { feedAbort.abort(); }
  const abort = new AbortController();
  feedAbort = abort;
  while (!abort.signal.aborted && caller) {
    try {
      const resp = await fetch("/api/v1/live", {
        headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` }, signal: abort.signal });
      if (resp.status === 401) { signOut("Your token was refused."); return; }
      if (!resp.ok || !resp.body) { throw new Error(`HTTP ${resp.status}`); }
      $("feed-state").textContent = "live";
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) { break; }
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          handleEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (e) {
      if (abort.signal.aborted) { return; }
    }
    $("feed-state").textContent = "reconnecting";
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function handleEvent(block) {
  let type = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) { type = line.slice(7); } else if (line.startsWith("data: ")) { data += line.slice(6); }
  }
  if (type !== "entry" || !data) { return; }
  const entry = JSON.parse(data);
  const tbody = $("live").querySelector("tbody");
  const time = entry.at ? new Date(entry.at).toLocaleTimeString() : "";
  let tr;
  if (entry.kind === "decision") {
    const verdict = el("span", (entry.verdict || "?").toUpperCase(), `badge ${entry.verdict === "allow" ? "allow" : "block"}`);
    const mode = entry.mode === "dry_run" ? " (dry run)" : "";
    tr = row([time, entry.number, entry.campaign, verdict,
      (entry.reasons || []).map((r) => r.code).join(", ") || "-", (entry.source || "") + mode]);
  } else if (entry.kind === "opt_out") {
    tr = row([time, entry.number, entry.campaign, el("span", "OPT-OUT", "badge block"), "pressed the opt-out key", entry.source]);
  } else if (entry.kind === "admin") {
    tr = row([time, "", entry.target, el("span", "ADMIN", "badge dry"), `${entry.action} by ${entry.actor}`, "api"]);
  } else {
    return;
  }
  tr.className = "fresh-row";
  tr.dataset.id = entry.id;
  tbody.insertBefore(tr, tbody.firstChild);
  while (tbody.children.length > MAX_LIVE_ROWS) { tbody.removeChild(tbody.lastChild); }
}

// ---- the campaign editor ------------------------------------------------------------------------------

function showCampaignsForEditing(data) {
  campaigns = {};
  for (const c of data.campaigns) { campaigns[c.name] = c; }
  const select = $("edit-campaign");
  const chosen = select.value;
  const names = Object.keys(campaigns).sort();
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    select.replaceChildren(...names.map((n) => { const o = el("option", n); o.value = n; return o; }));
    if (names.includes(chosen)) { select.value = chosen; }
    loadForm();
  }
}

function hoursInputs() {
  const box = $("edit-hours");
  if (box.children.length) { return; }
  for (const day of DAYS) {
    const wrap = el("div");
    const label = el("label", day);
    label.htmlFor = `edit-hours-${day}`;
    const input = el("input");
    input.type = "text";
    input.id = `edit-hours-${day}`;
    input.placeholder = "closed";
    wrap.append(label, input);
    box.appendChild(wrap);
  }
}

function limitRow(limit) {
  const tr = document.createElement("tr");
  const scope = el("select");
  for (const s of ["campaign", "subject", "any"]) { const o = el("option", s); o.value = s; scope.appendChild(o); }
  scope.value = limit.scope || "campaign";
  scope.className = "limit-scope";
  const max = el("input"); max.type = "text"; max.size = 4; max.className = "limit-max"; max.value = limit.max_calls ?? "";
  const win = el("input"); win.type = "text"; win.size = 6; win.className = "limit-window"; win.value = limit.window || "";
  const src = el("input"); src.type = "text"; src.size = 24; src.className = "limit-source"; src.value = limit.source || "";
  const remove = el("button", "Remove", "remove"); remove.type = "button";
  remove.addEventListener("click", () => { tr.remove(); formChanged(); });
  for (const node of [scope, max, win, src, remove]) { const td = document.createElement("td"); td.appendChild(node); tr.appendChild(td); }
  return tr;
}

function loadForm() {
  hoursInputs();
  const c = campaigns[$("edit-campaign").value];
  if (!c) { return; }
  $("edit-policy").textContent = `policy ${c.policy}: ` + DAYS.map((d) => `${d} ${(c.policy_hours[d] || ["closed"]).join(" ")}`).join(", ");
  $("edit-cps").value = String(c.calls_per_second);
  $("edit-frequency").querySelector("tbody").replaceChildren(...c.frequency.map(limitRow));
  $("edit-own-hours").checked = c.hours !== null;
  for (const day of DAYS) { $(`edit-hours-${day}`).value = c.hours && c.hours[day] ? c.hours[day].join(", ") : ""; }
  $("edit-quiet").value = c.quiet ? c.quiet.join(", ") : "";
  formChanged();
  $("edit-error").hidden = true;
  $("edit-result").hidden = true;
}

function number(text) { return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text.trim(); }

function splitRanges(text) { return text.split(",").map((s) => s.trim()).filter((s) => s); }

// The edit as PATCH takes it: only the fields that differ from the running campaign.
function proposedChanges() {
  const c = campaigns[$("edit-campaign").value];
  const proposed = {
    calls_per_second: number($("edit-cps").value),
    frequency: [...$("edit-frequency").querySelectorAll("tbody tr")].map((tr) => {
      const limit = { scope: tr.querySelector(".limit-scope").value, max_calls: number(tr.querySelector(".limit-max").value),
        window: tr.querySelector(".limit-window").value.trim() };
      const source = tr.querySelector(".limit-source").value.trim();
      if (source) { limit.source = source; }
      return limit;
    }),
    hours: null,
    quiet: null,
  };
  if ($("edit-own-hours").checked) {
    proposed.hours = {};
    for (const day of DAYS) { const r = splitRanges($(`edit-hours-${day}`).value); proposed.hours[day] = r.length ? r : "closed"; }
    const quiet = splitRanges($("edit-quiet").value);
    proposed.quiet = quiet.length ? quiet : null;
  }
  const current = {
    calls_per_second: c.calls_per_second,
    frequency: c.frequency.map((f) => { const l = { scope: f.scope, max_calls: f.max_calls, window: f.window }; if (f.source) { l.source = f.source; } return l; }),
    hours: c.hours === null ? null : Object.fromEntries(DAYS.map((d) => [d, c.hours[d] || "closed"])),
    quiet: c.quiet,
  };
  const changes = {};
  for (const key of Object.keys(proposed)) {
    if (JSON.stringify(proposed[key]) !== JSON.stringify(current[key])) { changes[key] = proposed[key]; }
  }
  if (changes.frequency && changes.frequency.length === 0) { changes.frequency = null; }
  return changes;
}

function formChanged() {
  reviewed = null;
  $("edit-save").disabled = true;
  $("edit-diff").hidden = true;
}

function showEditError(e) {
  $("edit-result").hidden = true;
  $("edit-error").hidden = false;
  if (e.status === 422) {
    $("edit-error").textContent = `Refused by the validator: ${e.body.detail}`;
  } else if (e.status === 412) {
    $("edit-error").textContent = `The config changed meanwhile (${e.body.detail}). Reset and edit again.`;
  } else {
    $("edit-error").textContent = `Not saved: ${e.message}`;
  }
}

async function review() {
  const name = $("edit-campaign").value;
  const changes = proposedChanges();
  $("edit-result").hidden = true;
  if (!Object.keys(changes).length) {
    $("edit-error").hidden = false;
    $("edit-error").textContent = "Nothing changed.";
    return;
  }
  try {
    const answer = await api("PATCH", `/api/v1/campaigns/${encodeURIComponent(name)}?dry_run=1`, changes,
      { "If-Match": configVersion });
    $("edit-error").hidden = true;
    $("edit-diff").textContent = answer.diff;
    $("edit-diff").hidden = false;
    reviewed = { name, changes, version: configVersion };
    $("edit-save").disabled = false;
  } catch (e) {
    $("edit-diff").hidden = true;
    showEditError(e);
  }
}

async function save() {
  if (!reviewed) { return; }
  const { name, changes, version } = reviewed;
  $("edit-save").disabled = true;
  try {
    const answer = await api("PATCH", `/api/v1/campaigns/${encodeURIComponent(name)}`, changes, { "If-Match": version });
    $("edit-error").hidden = true;
    $("edit-result").hidden = false;
    $("edit-result").textContent = `Saved: campaign ${name} now runs with config version ${answer.version}.`;
    reviewed = null;
    await refresh();
    loadForm();
    $("edit-result").hidden = false;
  } catch (e) {
    showEditError(e);
  }
}

// ---- wiring -------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (token) { signIn(token); }
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("edit-campaign").addEventListener("change", loadForm);
  $("edit-form").addEventListener("input", formChanged);
  $("edit-add-limit").addEventListener("click", () => {
    $("edit-frequency").querySelector("tbody").appendChild(limitRow({ scope: "campaign", max_calls: "", window: "" }));
    formChanged();
  });
  $("edit-review").addEventListener("click", review);
  $("edit-save").addEventListener("click", save);
  $("edit-reset").addEventListener("click", loadForm);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) { signIn(token); } else { showLogin(""); }
});
