// The page: one search box for a title or a description, cards, and a film view
// with its own "more like this". State lives in the address (?q=..., ?film=...),
// so every view can be shared and the back button works.
"use strict";

const $ = (id) => document.getElementById(id);
const K = 10;
const SUGGEST_FROM = 0.85; // suggestions weaker than this are noise for a description

// Where the service asks for API keys, the page asks the viewer for one once, keeps it
// in this browser (localStorage) and sends it with each request; the page itself is open.
const KEY_STORE = "recommender-api-key";

async function api(path) {
  try {
    const headers = { Accept: "application/json" };
    const key = localStorage.getItem(KEY_STORE);
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(path, { headers });
    $("key-form").hidden = !(response.status === 401 || response.status === 403);
    let body;
    try { body = await response.json(); } catch { body = null; }
    if (!body) body = { error: { message: `The server answered ${response.status}.` } };
    return { ok: response.ok, status: response.status, body };
  } catch (err) {
    return { ok: false, status: 0, body: { error: { message: "The service can't be reached." } } };
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function filterParams() {
  const p = new URLSearchParams();
  for (const name of ["year_min", "year_max", "mode"]) {
    const value = $(name).value.trim();
    if (value) p.set(name, value);
  }
  return p;
}

function filmLink(film, text) {
  const a = el("a", { href: `?film=${encodeURIComponent(film.id)}`, "data-film": film.id }, text);
  return a;
}

function status(parts, isError = false) {
  const node = $("status");
  node.className = isError ? "error" : "";
  node.replaceChildren(...parts);
}

function renderCards(results, emptyText) {
  const list = $("results");
  list.replaceChildren();
  if (!results.length) {
    list.append(el("li", { class: "empty" }, emptyText));
    return;
  }
  const top = Math.max(...results.map((r) => r.score), 1e-9);
  for (const film of results) {
    const width = Math.max(2, Math.round(100 * Math.max(0, film.score) / Math.max(top, 1)));
    const link = filmLink(film, "");
    link.append(
      el("h2", {}, film.title, " ", el("span", { class: "year" }, film.year ? `(${film.year})` : "")),
      el("p", {}, film.synopsis || ""),
      el("div", { class: "score", title: `score ${film.score}` },
        el("span", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${width}%` })),
        `score ${film.score.toFixed(3)}`),
    );
    list.append(el("li", { class: "card" }, link));
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE);
  $("key-form").hidden = true;
  route();
});

function apiError(answer) {
  status([answer.body.error ? answer.body.error.message : `Error ${answer.status}`], true);
  $("results").replaceChildren();
}

async function showQuery(q) {
  $("film").hidden = true;
  status(["Searching…"]);
  const common = filterParams();
  common.set("k", K);
  common.set("synopsis", "true");
  const byTitle = new URLSearchParams(common); byTitle.set("title", q);
  const byText = new URLSearchParams(common); byText.set("q", q);
  const [asTitle, asText] = await Promise.all([api(`/similar?${byTitle}`), api(`/search?${byText}`)]);
  if (asTitle.ok && ["exact", "alias"].includes(asTitle.body.query.match)) {
    const film = asTitle.body.query.resolved;
    status(["Understood as the title ", filmLink(film, `${film.title} (${film.year ?? "?"})`),
      ": films like it."]);
    renderCards(asTitle.body.results, "No other films.");
    return;
  }
  if (!asText.ok) { apiError(asText); return; }
  const note = [`Understood as a description: films that match “${q}”.`];
  let suggestions = [];
  if (asTitle.ok && asTitle.body.query.match === "fuzzy") suggestions = [asTitle.body.query.resolved];
  else if (asTitle.status === 404 && asTitle.body.error.suggestions) {
    suggestions = asTitle.body.error.suggestions.filter((s) => s.score >= SUGGEST_FROM);
  }
  if (suggestions.length) {
    note.push(" Did you mean ");
    suggestions.forEach((s, i) => {
      if (i) note.push(i === suggestions.length - 1 ? " or " : ", ");
      note.push(filmLink(s, `${s.title} (${s.year ?? "?"})`));
    });
    note.push("?");
  }
  status(note);
  renderCards(asText.body.results, "No films match. Try other words, or fewer filters.");
}

async function showFilm(id) {
  status(["Loading…"]);
  const similar = filterParams(); similar.set("k", K); similar.set("synopsis", "true");
  const [film, like] = await Promise.all([api(`/films/${encodeURIComponent(id)}`),
    api(`/films/${encodeURIComponent(id)}/similar?${similar}`)]);
  if (!film.ok) { $("film").hidden = true; apiError(film); return; }
  const f = film.body;
  $("film-title").textContent = f.title;
  const meta = [f.year, f.genres.join(", "),
    f.aliases.length ? `also known as ${f.aliases.join(", ")}` : ""].filter(Boolean);
  $("film-meta").textContent = meta.join(" · ");
  $("film-synopsis").textContent = f.synopsis;
  $("film").hidden = false;
  status([]);
  if (!like.ok) { apiError(like); return; }
  renderCards(like.body.results, "No other films.");
  $("film-title").focus?.();
}

function readState() {
  const p = new URLSearchParams(location.search);
  $("q").value = p.get("q") || "";
  for (const name of ["year_min", "year_max", "mode"]) $(name).value = p.get(name) || "";
  if (["year_min", "year_max", "mode"].some((n) => p.get(n))) $("filters").open = true;
  return p;
}

async function route() {
  const p = readState();
  if (p.get("film")) return showFilm(p.get("film"));
  if (p.get("q")) return showQuery(p.get("q"));
  $("film").hidden = true;
  $("results").replaceChildren();
  status([]);
}

function go(params) {
  history.pushState(null, "", params.toString() ? `?${params}` : location.pathname);
  route();
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("q").value.trim();
  if (!q) { status(["Type a title or a few words about a film."], true); return; }
  const params = filterParams();
  params.set("q", q);
  go(params);
});

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-film]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  const params = filterParams();
  params.set("film", link.dataset.film);
  go(params);
  window.scrollTo(0, 0);
});

window.addEventListener("popstate", route);
route();
