// The operators' dashboard: GET /admin/stats drawn as one line of click-through per
// surface per day, and each experiment of GET /admin/experiments with its variants,
// their intervals and lift. Drawn by hand in SVG: nothing is fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "recommender-api-key";
const RANGES = [7, 14, 30, 90, 365];  // the days a report may span; the select offers these

// Surfaces by the names people use, not the service's internal ones.
const SURFACE_NAMES = {
  user_recommendations: "Recommended for you",
  user_rows: "Rows on the start page",
  similar: "More like this",
  also_liked: "Viewers also liked",
  search: "Search",
  recommend: "Recommendations asked by an application",
  trending: "Trending",
};
const surfaceName = (s) => SURFACE_NAMES[s] || s.replace(/_/g, " ");
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

async function api(path) {
  const headers = { Accept: "application/json" };
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, { headers });
  $("key-form").hidden = !(response.status === 401 || response.status === 403);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `${path}: ${response.status}`);
  return body;
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

// A round step for about four ticks up to ``top``: 1, 2, 2.5 or 5 times a power of ten.
function niceStep(top) {
  const raw = top / 4, power = 10 ** Math.floor(Math.log10(raw));
  return power * [1, 2, 2.5, 5, 10].find((m) => m * power >= raw);
}

// The days to draw: from the first day with data (one before it, so a single day is a
// point inside the chart, not at its edge) to the report's last; all of them if none.
function daysOf(stats) {
  const all = [];
  for (let t = Date.parse(stats.since.slice(0, 10)); t <= Date.parse(stats.until); t += 86400000) all.push(new Date(t).toISOString().slice(0, 10));
  const first = all.findIndex((d) => stats.surfaces.some((r) => r.day === d));
  return first < 0 ? all : all.slice(Math.max(0, first - 1));
}

// One line per surface over the days with data, y from 0 to a round step past the largest CTR.
function drawChart(stats) {
  const days = daysOf(stats);
  const surfaces = [...new Set(stats.surfaces.map((r) => r.surface))].sort();
  // drawn at the width it is shown at; a narrow screen (a phone) gets its legend below
  const W = Math.max(300, Math.min(900, $("chart").clientWidth || 760));
  const narrow = W < 600;
  const L = 48, R = narrow ? 12 : 230, T = 12, B = 32, PLOT = 220;
  const H = PLOT + (narrow ? 18 * surfaces.length + 8 : 0);
  const step = niceStep(Math.max(0.01, ...stats.surfaces.map((r) => r.ctr)));
  const top = step * Math.ceil(Math.max(0.01, ...stats.surfaces.map((r) => r.ctr)) / step);
  const x = (i) => L + (days.length > 1 ? i * (W - L - R) / (days.length - 1) : (W - L - R) / 2);
  const y = (v) => T + (PLOT - T - B) * (1 - v / top);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "click-through rate per surface per day" });
  const grid = el("svg:g", { class: "grid" });
  for (let v = 0; v <= top + step / 2; v += step) {
    const label = `${+(100 * v).toFixed(2)}%`;
    grid.append(el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      el("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, label));
  }
  days.forEach((d, i) => { if (i % Math.ceil(days.length / 7) === 0) grid.append(el("svg:text", { x: x(i), y: PLOT - 10, "text-anchor": i === days.length - 1 && i > 0 ? "end" : "middle" }, d.slice(5))); });
  svg.append(grid);
  surfaces.forEach((surface, s) => {
    const colour = COLOURS[s % COLOURS.length];
    const points = days.map((d, i) => {
      const row = stats.surfaces.find((r) => r.surface === surface && r.day === d);
      return row ? [x(i), y(row.ctr)] : null;
    }).filter(Boolean);
    if (points.length) {
      svg.append(el("svg:polyline", { class: "line", "data-surface": surface, stroke: colour, points: points.map((p) => p.join(",")).join(" ") }));
      for (const [px, py] of points) svg.append(el("svg:circle", { cx: px, cy: py, r: 3, fill: colour }));
    }
    const [lx, ly] = narrow ? [L, PLOT + 18 * s] : [W - R + 12, T + 18 * s];
    svg.append(el("svg:g", { class: "legend" }, el("svg:rect", { x: lx, y: ly, width: 12, height: 12, fill: colour }),
      el("svg:text", { x: lx + 18, y: ly + 6 }, surfaceName(surface))));
  });
  $("chart").replaceChildren(svg);
}

function intervalBar([low, high], ctr, scale) {
  const w = 160, px = (v) => 2 + (w - 4) * Math.min(v / scale, 1);
  return el("svg:svg", { viewBox: `0 0 ${w} 16`, "aria-hidden": "true" },
    el("svg:line", { x1: px(low), x2: px(high), y1: 8, y2: 8, stroke: "#555", "stroke-width": 2 }),
    el("svg:circle", { cx: px(ctr), cy: 8, r: 4, fill: "#1f77b4" }));
}

function figuresTable(rows, first, withLift) {
  const scale = Math.max(0.05, ...rows.map((r) => r.ctr_ci95[1]));
  const head = [first, "viewers", "impressions", "clicks", "CTR", "95% interval", ""];
  if (withLift) head.push("lift", "p");
  const table = el("table", { class: "figures" }, el("tr", {}, ...head.map((h) => el("th", {}, h))));
  for (const r of rows) {
    const cells = [r.label, r.viewers, r.impressions, r.clicks, pct(r.ctr),
      `${pct(r.ctr_ci95[0])}–${pct(r.ctr_ci95[1])}`];
    const tr = el("tr", {}, ...cells.map((c) => el("td", {}, String(c))), el("td", { class: "interval" }, intervalBar(r.ctr_ci95, r.ctr, scale)));
    if (withLift) {
      const lift = r.lift_vs_control;
      tr.append(el("td", { class: lift == null ? "" : lift >= 0 ? "better" : "worse" }, lift == null ? "control" : `${lift >= 0 ? "+" : ""}${pct(lift)}`),
        el("td", {}, r.p_value == null ? "" : r.p_value.toFixed(3)));
    }
    table.append(tr);
  }
  return table;
}

function placementsTable(rows) {
  const table = el("table", { class: "figures" }, el("tr", {}, ...["where", "places", "films shown", "opened", "CTR"].map((h) => el("th", {}, h))));
  for (const r of rows) {
    table.append(el("tr", { "data-placement": r.placement }, ...[surfaceName(r.surface), r.placement === "promoted" ? "promoted by a rule" : "organic",
      r.films_shown, r.clicks, r.click_through == null ? "" : pct(r.click_through)].map((c) => el("td", {}, String(c)))));
  }
  return el("div", { class: "table-scroll" }, table);
}

async function show() {
  $("status").textContent = "";
  try {
    const days = Number($("range").value) || 14;
    const stats = await api(`/admin/stats?days=${days}`);
    const drawn = daysOf(stats);
    const untied = stats.unattributed_events;
    $("span").textContent = `${drawn[0]} to ${stats.until.slice(0, 10)}` +
      (untied ? `; ${untied} viewer events not tied to an answer (sent without a recommendation_id)` : "");
    const rows = stats.totals.map((t) => ({ ...t, label: surfaceName(t.surface) }));
    if (rows.length) {
      drawChart(stats);
      $("surfaces").replaceChildren(figuresTable(rows, "where the films were shown, all days", false));
    } else {
      $("chart").replaceChildren(el("p", { class: "empty" },
        `Nothing was shown in the last ${days} days. Each answer the service gives is counted as it is served: open `,
        el("a", { href: "/" }, "the page"), " and search, or send your application's traffic. Clicks are counted from events that carry the answer's recommendation_id (docs/feedback.md)."));
      $("surfaces").replaceChildren();
    }
    // the places the service's rules gave (promotions, pins) apart from the others
    const placed = stats.placements.filter((p) => p.placement === "promoted").map((p) => p.surface);
    $("placements").replaceChildren(...(placed.length ? [placementsTable(stats.placements.filter((p) => placed.includes(p.surface)))]
      : [el("p", { class: "empty" }, "No film was placed by a rule in this period. Promotions and pins are set in the rules file (RECOMMENDER_RULES, docs/rules.md).")]));
    const { experiments } = await api("/admin/experiments");
    const parts = [];
    for (const e of experiments) {
      const report = await api(`/admin/experiments/${encodeURIComponent(e.name)}`);
      parts.push(el("section", { class: "experiment", "data-experiment": e.name },
        el("h3", {}, `${e.name} `, el("span", { class: "muted" }, `${e.surfaces.map(surfaceName).join(", ")}; since ${report.since.slice(0, 10)}`)),
        el("div", { class: "table-scroll" }, figuresTable(report.variants.map((v) => ({ ...v, label: v.name })), "variant", true))));
    }
    $("experiments").replaceChildren(...(parts.length ? parts : [el("p", { class: "empty" }, "No experiment is running. To compare two ways of ranking, describe them in an experiments file and point RECOMMENDER_EXPERIMENTS at it (docs/feedback.md).")]));
  } catch (error) {
    $("status").textContent = error.message;
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE);
  for (const d of RANGES) $("range").append(el("option", d === 14 ? { value: d, selected: "" } : { value: d }, `last ${d} days`));
$("range").addEventListener("change", show);
show();
});

for (const d of RANGES) $("range").append(el("option", d === 14 ? { value: d, selected: "" } : { value: d }, `last ${d} days`));
$("range").addEventListener("change", show);
show();
