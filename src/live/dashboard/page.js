"use strict";
// The dashboard's page: reads /events (start, one tick a second, end), keeps the run in memory and
// redraws tables and SVG charts (drawn as src/results/report.rs draws them, same colours).

const W = 470, H = 150, ML = 56, MB = 22;
const GREEN = "#2a6", RED = "#c33", BLUE = "#26c", BROWN = "#a52", ORANGE = "#e80";
const KIND_COLOURS = [RED, BROWN, ORANGE, "#939", "#555", "#0aa"];
/** Points kept per chart in the browser; past it every other point is dropped. */
const MAX_POINTS = 3600;

let run = null; // {start, ticks: [], end}
let connected = false;

function esc(s) {
  return String(s).replace(/[&<>"']/g, c =>
    ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
}

/** An axis label as report.rs writes it. */
function number(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(3);
}

function fixed(v, d) {
  return v === null || v === undefined ? "" : Number(v).toFixed(d);
}

/** An SVG line chart: lines = [[colour, label, [[x, y], ...]], ...], x from 0 to span seconds. */
function chart(id, title, span, lines) {
  let xmax = Math.max(span, 1), top = 0, bottom = 0;
  for (const [, , pts] of lines) for (const [x, y] of pts) {
    xmax = Math.max(xmax, x); top = Math.max(top, y); bottom = Math.min(bottom, y);
  }
  const range = top - bottom, scale = range > 0 ? range * 1.05 : 1;
  const px = x => ML + x / xmax * (W - ML - 8);
  const py = y => (H - MB) - (y - bottom) / scale * (H - MB - 18);
  const legend = lines.length > 1 || lines.some(l => l[1])
    ? lines.map(([c, label]) => ` <tspan fill="${c}">${esc(label)}</tspan>`).join("") : "";
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" data-chart="${esc(id)}">`
    + `<text x="${ML}" y="12" font-size="11">${esc(title)}${legend}</text>`
    + `<line x1="${ML}" y1="${H - MB}" x2="${W - 8}" y2="${H - MB}" stroke="#999"/>`
    + `<line x1="${ML}" y1="18" x2="${ML}" y2="${H - MB}" stroke="#999"/>`
    + `<text x="${ML - 4}" y="${py(top) + 4}" font-size="10" text-anchor="end">${number(top)}</text>`
    + `<text x="${ML - 4}" y="${H - MB}" font-size="10" text-anchor="end">${number(bottom)}</text>`
    + `<text x="${ML}" y="${H - 6}" font-size="10">0 s</text>`
    + `<text x="${W - 8}" y="${H - 6}" font-size="10" text-anchor="end">${number(xmax)} s</text>`;
  for (const [c, label, pts] of lines) {
    if (!pts.length) continue;
    const path = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    s += `<polyline fill="none" stroke="${c}" stroke-width="1.5" data-series="${esc(label)}" points="${path}"/>`;
  }
  return s + "</svg>";
}

/** Per operation, its points: [{x, w, m}] from the live ticks, or the result's series at the end. */
function opPoints() {
  const t0 = run.start.t0;
  const src = run.end ? run.end.series : run.ticks;
  const names = new Set();
  for (const s of src) for (const name of Object.keys(s.metrics || {})) names.add(name);
  const ops = new Map();
  // A second without the operation is a second with none of it: drawn at zero, as report.rs does.
  const none = {count: 0, errors: 0, error_kinds: {}, p50: null, p95: null, p99: null};
  for (const name of [...names].sort()) {
    ops.set(name, src.map(s => ({x: s.t - t0, w: s.w || 1, m: (s.metrics || {})[name] || none})));
  }
  return ops;
}

function line(pts, f) {
  const out = [];
  for (const p of pts) { const v = f(p); if (v !== null && v !== undefined) out.push([p.x, v]); }
  return out;
}

function opSection(name, pts, span) {
  const last = pts[pts.length - 1];
  const tot = run.end ? run.end.metrics[name] : (run.ticks.length ? (run.ticks[run.ticks.length - 1].totals || {})[name] : null);
  let now = "";
  if (last) now += `now <b>${fixed(last.m.count / last.w, 0)}</b> ops/s, p99 <b>${fixed(last.m.p99, 2)}</b> ms`;
  if (tot) {
    const errs = tot.error_count !== undefined ? tot.error_count : tot.errors;
    const p99 = tot.latency ? tot.latency.p99 : tot.p99;
    now += `; ${run.end ? "in all" : "so far"} <b>${tot.count}</b> operations, `
      + `<b class="${errs > 0 ? "bad" : ""}">${errs}</b> failed, p99 <b>${fixed(p99, 2)}</b> ms`;
  }
  const kinds = new Set();
  for (const p of pts) for (const k of Object.keys(p.m.error_kinds || {})) kinds.add(k);
  const failed = pts.some(p => p.m.errors > 0);
  let h = `<h3>${esc(name)}</h3><p class="now">${now}</p><div class="charts">`;
  const ops = [[GREEN, "ops/s", line(pts, p => p.m.count / p.w)]];
  if (failed) ops.push([RED, "failed/s", line(pts, p => p.m.errors / p.w)]);
  h += chart(`${name}/ops`, "operations a second:", span, ops);
  const kl = [...kinds].sort().map((k, i) =>
    [KIND_COLOURS[i % KIND_COLOURS.length], k, line(pts, p => ((p.m.error_kinds || {})[k] || 0) / p.w)]);
  h += chart(`${name}/errors`, kl.length ? "failures a second by kind:" : "failures a second: none", span,
    kl.length ? kl : [[RED, "", line(pts, () => 0)]]);
  h += chart(`${name}/latency`, "latency ms:", span, [
    [BLUE, "p50", line(pts, p => p.m.p50)], [ORANGE, "p95", line(pts, p => p.m.p95)],
    [RED, "p99", line(pts, p => p.m.p99)]]);
  // The result file keeps no per-second service time: at the end this chart stays the live one.
  const live = run.ticks.filter(t => t.metrics && t.metrics[name] && t.metrics[name].service)
    .map(t => ({x: t.t - run.start.t0, m: t.metrics[name].service}));
  if (live.length) {
    h += chart(`${name}/service`, run.end ? "service time ms (live):" : "service time ms:", span, [
      [BLUE, "p50", line(live, p => p.m.p50)], [ORANGE, "p95", line(live, p => p.m.p95)],
      [RED, "p99", line(live, p => p.m.p99)]]);
  }
  return `<section data-op="${esc(name)}">${h}</div></section>`;
}

function render() {
  if (!run) return;
  const st = run.start, ticks = run.ticks, last = ticks[ticks.length - 1];
  const span = Math.max(st.scheduled_s || 0, 1);
  document.getElementById("info").innerHTML =
    `script <code>${esc(st.script)}</code>, run <code>${esc(st.run_id)}</code>`
    + (st.source === "file" ? " (from its result file)" : "")
    + (st.max_vus ? `, up to ${st.max_vus} VUs` : "")
    + (st.scenarios.length ? ", scenarios: " + st.scenarios.map(s =>
      `${esc(s.name)} (${esc(s.executor)}, ${number(s.duration_s)} s from ${number(s.start_s)} s)`).join(", ") : "");
  const elapsed = run.end ? run.end.duration_s : (last ? last.elapsed_s : 0);
  const share = run.end ? 1 : Math.min(elapsed / span, 1);
  document.querySelector("#bar div").style.width = (share * 100).toFixed(1) + "%";
  document.getElementById("progress").textContent = run.end
    ? `ended after ${elapsed.toFixed(1)} s of load (${run.end.status})`
    : `${elapsed.toFixed(0)} s of ${number(span)} s scheduled` + (last && last.stopping ? ", stopping" : "");
  setStatus();
  renderThresholds();
  renderGenerator(span);
  const ops = opPoints();
  let h = "";
  for (const [name, pts] of ops) h += opSection(name, pts, span);
  document.getElementById("ops").innerHTML = h;
  renderFinal();
}

function renderGenerator(span) {
  const t0 = run.start.t0, ticks = run.ticks, last = ticks[ticks.length - 1];
  const pts = ticks.map(t => ({x: t.t - t0, m: t}));
  const gen = run.end && run.end.generator;
  let now = last ? `busy VUs <b>${last.busy_vus}</b>, CPU <b>${fixed(last.cpu_pct, 0)}</b> % of one core` : "";
  if (gen) now += `${now ? "; " : ""}in all ${fixed(gen.cpu_seconds, 1)} s of CPU (${fixed(gen.cpu_share * 100, 1)} % of the machine), `
    + `scheduler lateness p99 ${gen.scheduler_lateness ? fixed(gen.scheduler_lateness.p99, 2) + " ms" : "none"}`;
  document.getElementById("gen-now").innerHTML = now || (run.start.source === "file"
    ? "the result file keeps no per-second figures of the generator" : "");
  if (!ticks.length || run.start.source === "file") { document.getElementById("gen").innerHTML = ""; return; }
  document.getElementById("gen").innerHTML =
    chart("vus", "VUs busy", span, [[GREEN, "", line(pts, p => p.m.busy_vus)]])
    + chart("lateness", "scheduler lateness ms (highest in the second)", span,
      [[BROWN, "", line(pts, p => p.m.lateness_ms)]])
    + chart("cpu", "generator CPU, % of one core", span, [[BLUE, "", line(pts, p => p.m.cpu_pct)]]);
}

function renderThresholds() {
  const rules = run.start.thresholds || [];
  const box = document.getElementById("thresholds-box");
  box.hidden = !rules.length;
  if (!rules.length) return;
  const last = run.ticks[run.ticks.length - 1];
  const outcomes = run.end ? run.end.thresholds : (last ? last.thresholds : []);
  let h = "<tr><th>metric</th><th>rule</th><th>state</th><th>observed</th></tr>";
  rules.forEach(([metric, rule], i) => {
    const o = outcomes[i];
    const state = !o ? `<span class="muted">not judged yet</span>`
      : o.ok ? `<b class="ok">ok</b>` : `<b class="bad">crossed</b>`;
    h += `<tr data-threshold="${i}"><td>${esc(metric)}</td><td>${esc(rule)}</td><td>${state}</td>`
      + `<td>${o && o.observed !== null ? number(o.observed) : ""}</td></tr>`;
  });
  document.getElementById("thresholds").innerHTML = h;
}

function renderFinal() {
  const box = document.getElementById("final");
  box.hidden = !run.end;
  if (!run.end) return;
  const e = run.end, bad = e.status !== "completed" || e.exit_code !== 0;
  document.getElementById("final-info").innerHTML =
    `status <b class="${bad ? "bad" : "ok"}" id="final-status">${esc(e.status)}</b>, exit code ${e.exit_code}, `
    + `${e.duration_s.toFixed(1)} s of load` + (e.failure ? `: <span class="bad">${esc(e.failure)}</span>` : "")
    + `<br>result file ${e.path ? `<code>${esc(e.path)}</code>` : "<b class=bad>not written</b>"}; `
    + `<a href="/result.json" download="result.json">result.json</a>, <a href="/report.html" target="_blank">report.html</a>`
    + ` <span class="muted">(offered while loadgen serves the page: see --dashboard-linger)</span>`;
  let h = "<tr><th>metric</th><th>type</th><th>count</th><th>errors</th><th>per second</th><th>p50</th>"
    + "<th>p95</th><th>p99</th><th>max</th><th>service p99</th></tr>";
  for (const [name, m] of Object.entries(e.metrics)) {
    const s = m.latency || m.values;
    const cell = (f, k) => s ? `<td data-field="${f}" data-value="${s[k]}">${fixed(s[k], 2)}</td>` : `<td data-field="${f}"></td>`;
    h += `<tr data-metric="${esc(name)}"><td>${esc(name)}</td><td>${esc(m.type)}</td>`
      + `<td data-field="count" data-value="${m.count}">${m.count}</td>`
      + `<td data-field="errors" class="${m.error_count ? "bad" : ""}">${m.error_count}`
      + (m.error_count ? ` (${Object.entries(m.errors).filter(([, n]) => n > 0).map(([k, n]) => `${esc(k)} ${n}`).join(", ")})` : "")
      + `</td>`
      + `<td>${fixed(m.throughput, 1)}</td>` + cell("p50", "p50") + cell("p95", "p95") + cell("p99", "p99")
      + cell("max", "max") + `<td>${m.service_time ? fixed(m.service_time.p99, 2) : ""}</td></tr>`;
  }
  document.getElementById("summary").innerHTML = h;
}

function setStatus() {
  const el = document.getElementById("status");
  const last = run && run.ticks[run.ticks.length - 1];
  let cls = "", text = "connecting";
  if (run && run.end) { cls = "ended"; text = "ended"; }
  else if (!connected) { cls = "down"; text = run ? "disconnected, reconnecting" : "connecting"; }
  else if (last && last.stopping) { cls = "stopping"; text = "stopping"; }
  else if (run) { cls = "live"; text = "live"; }
  el.className = cls;
  el.textContent = text;
}

let pending = false;
/** Redraws once for a burst of events (the replay of a long run arrives at once). */
function later() {
  if (pending) return;
  pending = true;
  setTimeout(() => { pending = false; render(); }, 0);
}

function connect() {
  const es = new EventSource("/events");
  es.onopen = () => { connected = true; setStatus(); };
  es.onerror = () => { connected = false; setStatus(); };
  es.addEventListener("start", ev => {
    // A reconnect is sent the whole run again: start over.
    run = {start: JSON.parse(ev.data), ticks: [], end: null};
    later();
  });
  es.addEventListener("tick", ev => {
    if (!run) return;
    run.ticks.push(JSON.parse(ev.data));
    if (run.ticks.length > MAX_POINTS) run.ticks = run.ticks.filter((_, i) => i % 2 === 0);
    later();
  });
  es.addEventListener("end", ev => {
    if (!run) return;
    run.end = JSON.parse(ev.data);
    // The server ends the stream after this; without close() the browser would reconnect.
    es.close();
    later();
  });
}

connect();
