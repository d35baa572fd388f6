// The page: one search box for a title or a description, cards that say why each film
// is there, a film view with its own "more like this", and a map of the whole catalog.
// State lives in the address (?q=..., ?film=..., ?view=map), so every view can be shared
// and the back button works.
"use strict";

const $ = (id) => document.getElementById(id);
const K = 10;

// Where the service asks for API keys, the page asks the viewer for one once, keeps it
// in this browser (localStorage) and sends it with each request; the page itself is open.
const KEY_STORE = "recommender-api-key";

// The filters the page offers, by their API names: the form's fields have these ids.
const FILTERS = ["year_min", "year_max", "mode"];

// Only the newest view draws. Each navigation (route()) aborts the requests of the one
// before; a view whose request was aborted never resumes, so a slow earlier search can't
// overwrite a later one.
let navigation = new AbortController();

// The viewer's context, set by the page's country and kids switches and kept in this
// browser: every request the page makes carries it, so every list obeys the service's
// territories and maturity rules. A kids profile is max_age 7.
const CONTEXT_STORE = "recommender-context";
const KIDS_AGE = 7;

function context() {
  try { return JSON.parse(localStorage.getItem(CONTEXT_STORE) || "{}"); } catch { return {}; }
}

function withContext(path) {
  const url = new URL(path, location.origin);
  const { country, kids } = context();
  if (country) url.searchParams.set("country", country);
  if (kids) url.searchParams.set("max_age", String(KIDS_AGE));
  return url.pathname + url.search;
}

async function api(path) {
  const { signal } = navigation;
  try {
    const headers = { Accept: "application/json" };
    const key = localStorage.getItem(KEY_STORE);
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(withContext(path), { headers, signal });
    $("key-form").hidden = !(response.status === 401 || response.status === 403);
    let body;
    try { body = await response.json(); } catch { body = null; }
    if (signal.aborted) return new Promise(() => {}); // superseded: this view never draws
    if (!body) body = { error: { message: `The server answered ${response.status}.` } };
    return { ok: response.ok, status: response.status, body };
  } catch (err) {
    if (signal.aborted) return new Promise(() => {}); // superseded: this view never draws
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
  for (const name of FILTERS) {
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

// Why a film is in the list, in a few words, from the explanation the API sent with it
// (explain=true): no second request per card.
// Each reason the service can give, in a sentence (never its internal name): one with a
// film names it, e.g. "viewers who liked Chronicle of an Escape also liked this".
const REASONS = {
  liked: (t) => `because you liked ${t}`,
  rated: (t) => `because you rated ${t}`,
  watched: (t) => `because you watched ${t}`,
  watchlisted: (t) => `because ${t} is on your list`,
  just_watched: (t) => `because you just watched ${t}`,
  popular_now: () => "popular now",
  viewers_also_liked: (t) => t ? `viewers who liked ${t} also liked this` : "viewers who liked what you liked also liked this",
  viewers_like_you: () => "liked by viewers with tastes like yours",
  new: () => "new to you",
  trending: () => "popular now",
  new_on_the_service: () => "new on the service",
  catalog: () => "from the catalog",
};

function reasonText(film, sourceId) {
  const r = film.reasons && film.reasons[0];
  if (r) {
    const say = REASONS[r.because];
    const title = r.film ? r.film.title : "";
    return say ? say(title) : title ? `related to ${title}` : "";
  }
  const e = film.explanation;
  if (!e) return "";
  const parts = [];
  const words = e.query_words || e.shared_words || [];
  if (e.closest_liked && e.closest_liked.id !== sourceId) parts.push(`closest to ${e.closest_liked.title}`);
  if (words.length) {
    parts.push(`${e.query_words ? "matches" : "shares"} “${words.slice(0, 4).join("”, “")}”`);
  }
  const semantic = e.semantic != null, lexical = e.lexical != null;
  parts.push(semantic && lexical ? "alike in meaning and words" : lexical ? "alike in words" : "alike in meaning");
  return parts.join(" · ");
}

function poster(url, className) {
  const img = el("img", { src: url, alt: "", loading: "lazy", decoding: "async", class: className });
  // a picture that doesn't load leaves a clean text-only card, not a broken icon
  img.addEventListener("error", () => { img.closest(".card")?.classList.add("no-image"); img.remove(); });
  return img;
}

// The viewer: an anonymous id kept in this browser, under which likes and dislikes are
// sent as events (POST /events), so that the start page can recommend for them.
const VIEWER_STORE = "recommender-viewer";

// Where keys are set, the browser holds a viewer token its application signed (never a
// key that reaches other viewers): the viewer is the token's own ("sub"), and the
// service refuses this browser any other.
function tokenViewer() {
  const token = localStorage.getItem(KEY_STORE) || "";
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch { return null; }
}

function viewerId() {
  const fromToken = tokenViewer();
  if (fromToken) return fromToken;
  let id = localStorage.getItem(VIEWER_STORE);
  if (!id) {
    id = "web-" + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    localStorage.setItem(VIEWER_STORE, id);
  }
  return id;
}

async function sendEvent(film, type, recommendationId) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const event = { user: viewerId(), film: { id: film.id }, type };
  if (recommendationId) event.recommendation_id = recommendationId;
  try {
    const response = await fetch("/events", { method: "POST", headers, body: JSON.stringify(event) });
    return response.ok;
  } catch { return false; }
}

function cardItem(film, top, sourceId, recommendationId) {
  const width = Math.max(2, Math.min(100, Math.round(100 * Math.max(0, film.score) / top)));
  const link = filmLink(film, "");
  if (recommendationId) link.dataset.recommendation = recommendationId;  // its click says so
  const text = el("div", { class: "text" },
    el("h2", {}, film.title, " ", el("span", { class: "year" }, film.year ? `(${film.year})` : "")),
    el("p", {}, film.synopsis || ""));
  const why = reasonText(film, sourceId);
  if (why) text.append(el("p", { class: "why" }, why));
  // a place a rule of the service gave (a promotion or a pin), said as such
  if (film.promoted) text.prepend(el("span", { class: "promoted" }, "Promoted"));
  // how close, next to the answer's first film: a bar, never the raw score (whose scale
  // differs between lists, and can be any number for a popularity count). A film listed
  // only to fill the page (the catalog's order, a new film) has no bar at all.
  if (film.score > 0 && top > 0) {
    text.append(el("div", { class: "score", role: "img", "aria-label": `match ${width}% of the first` },
      el("span", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${width}%` }))));
  }
  if (film.image_url) link.append(poster(film.image_url, "poster"));
  link.append(text);
  const actions = el("div", { class: "actions" });
  for (const [type, label] of [["like", "Like"], ["dislike", "Not for me"]]) {
    const button = el("button", { type: "button", class: `event ${type}`, "aria-pressed": "false",
      "data-event": type, "aria-label": `${label}: ${film.title}` }, label);
    button.addEventListener("click", async () => {
      if (await sendEvent(film, type, recommendationId)) {
        button.setAttribute("aria-pressed", "true");
        if (!new URLSearchParams(location.search).toString()) showHome();  // the start page learns at once
      }
    });
    actions.append(button);
  }
  return el("li", { class: film.image_url ? "card" : "card no-image" }, link, actions);
}

function renderCards(results, emptyText, sourceId = null, list = $("results"), recommendationId = null) {
  list.replaceChildren();
  if (!results.length) {
    list.append(el("li", { class: "empty" }, emptyText));
    return;
  }
  const top = Math.max(...results.map((r) => r.score), 0);
  for (const film of results) list.append(cardItem(film, top, sourceId, recommendationId));
}

// The start page: "Recommended for you" from this browser's likes and dislikes (what is
// popular, for a viewer who has none yet), then the viewer's rows: one per film they
// liked, what is trending this week, what is new on the service.
async function showHome() {
  showView("home");
  const viewer = encodeURIComponent(viewerId());
  const [recs, rows] = await Promise.all([
    api(`/users/${viewer}/recommendations?k=${K}&synopsis=true`),
    api(`/users/${viewer}/rows?rows=3&k=5`)]);
  const home = $("home");
  home.replaceChildren();
  if (!recs.ok) { apiError(recs); return; }
  status([]);
  // "history", or "history and every viewer's" once a collaborative model serves
  const personal = recs.body.query.basis.startsWith("history");
  // with nothing popular yet, the fallback is the catalog's own order: say so
  const fromCatalog = recs.body.results.length > 0 && recs.body.results.every((r) => (r.reasons || [])[0]?.because === "catalog");
  const first = personal ? "Recommended for you" : fromCatalog ? "From the catalog" : "Popular now";
  const sections = [[first, recs.body.results, recs.body.recommendation_id, "recommended"]];
  if (rows.ok) {
    // each row says why it is there ("Because you liked X", "Trending this week", "New
    // on the service"); without a history the first section already is what is popular
    for (const row of rows.body.rows) {
      if (row.reason === "catalog" || (!personal && row.reason === "trending")) continue;
      sections.push([row.title, row.results, rows.body.recommendation_id, `row ${row.reason}`]);
    }
  }
  for (const [title, results, recommendationId, kind] of sections) {
    const list = el("ol", { class: "cards" });
    renderCards(results, "Nothing yet.", null, list, recommendationId);
    home.append(el("section", { class: `home-section ${kind}` }, el("h2", { class: "results-title" }, title), list));
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

function showView(name) {
  $("map-view").hidden = name !== "map";
  $("home").hidden = name !== "home";
  $("results-section").hidden = name === "map" || name === "home";
  if (name !== "film") { $("film").hidden = true; $("also-section").hidden = true; }
  $("results-title").hidden = name !== "film";
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    if (a.dataset.view === (name === "map" ? "map" : "search")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function showQuery(q) {
  showView("search");
  status(["Searching…"]);
  const common = filterParams();
  common.set("k", K);
  common.set("synopsis", "true");
  common.set("explain", "true");
  const byTitle = new URLSearchParams(common); byTitle.set("title", q);
  const byText = new URLSearchParams(common); byText.set("q", q);
  const [asTitle, asText] = await Promise.all([api(`/similar?${byTitle}`), api(`/search?${byText}`)]);
  if (asTitle.ok && ["exact", "alias"].includes(asTitle.body.query.match)) {
    const film = asTitle.body.query.resolved;
    status(["Understood as the title ", filmLink(film, `${film.title} (${film.year ?? "?"})`),
      ": films like it."]);
    renderCards(asTitle.body.results, "No other films.", film.id, $("results"),
      asTitle.body.recommendation_id);
    $("results").classList.remove("far");
    return;
  }
  if (!asText.ok) { apiError(asText); return; }
  const far = !asText.body.results.length && (asText.body.nearest || []).length > 0;
  const note = [far ? `Nothing is close to “${q}”. The nearest films, though far from it:`
    : `Understood as a description: films that match “${q}”.`];
  let suggestions = [];
  if (asTitle.ok && asTitle.body.query.match === "fuzzy") suggestions = [asTitle.body.query.resolved];
  else if (asTitle.status === 404 && asTitle.body.error.suggestions) {
    suggestions = asTitle.body.error.suggestions;  // the service offers them only for near misses
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
  const shown = far ? asText.body.nearest : asText.body.results;
  renderCards(shown, "No films match. Try other words, or fewer filters.", null, $("results"),
    asText.body.recommendation_id);
  $("results").classList.toggle("far", far);
}

async function showFilm(id) {
  showView("film");
  status(["Loading…"]);
  const similar = filterParams(); similar.set("k", K); similar.set("synopsis", "true");
  similar.set("explain", "true");
  const also = filterParams(); also.set("k", K); also.set("synopsis", "true");
  const [film, like, alsoLiked] = await Promise.all([api(`/films/${encodeURIComponent(id)}`),
    api(`/films/${encodeURIComponent(id)}/similar?${similar}`),
    api(`/films/${encodeURIComponent(id)}/also-liked?${also}`)]);
  if (film.status === 404) {  // a person followed a link: no API advice, a way on
    $("film").hidden = true;
    $("results-section").hidden = true;
    status(["There is no film here with that address: it may have been withdrawn, or the link is wrong. Search for it by its title above, or ",
      el("a", { href: "./", "data-view": "search" }, "start again"), "."], true);
    return;
  }
  if (!film.ok) { $("film").hidden = true; apiError(film); return; }
  const f = film.body;
  $("film-title").textContent = f.title;
  const meta = [f.year, f.genres.join(", "),
    f.aliases.length ? `also known as ${f.aliases.join(", ")}` : ""].filter(Boolean);
  $("film-meta").textContent = meta.join(" · ");
  $("film-synopsis").textContent = f.synopsis;
  $("film-on-map").href = `?view=map&film=${encodeURIComponent(f.id)}`;
  const image = $("film-image");
  image.hidden = !f.image_url;
  if (f.image_url) {
    image.onerror = () => { image.hidden = true; };
    image.src = f.image_url;
  } else image.removeAttribute("src");
  $("film").hidden = false;
  status([]);
  if (!like.ok) { apiError(like); return; }
  renderCards(like.body.results, "No other films.", f.id, $("results"), like.body.recommendation_id);
  $("results").classList.remove("far");
  // a second row where the collaborative model knows the film: what its viewers watched
  const alsoResults = alsoLiked.ok ? alsoLiked.body.results : [];
  $("also-section").hidden = !alsoResults.length;
  if (alsoResults.length) {
    renderCards(alsoResults, "", f.id, $("also"), alsoLiked.body.recommendation_id);
  }
  $("film-title").focus?.();
}

// -- the map ---------------------------------------------------------------------------

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
  "#8c564b", "#e377c2", "#7f7f00", "#393b79"];
const OTHER = "#b0b0b0";
const mapState = { points: [], colors: new Map(), highlight: new Set(), focus: null, hover: -1 };

function mapColor(group) { return mapState.colors.get(group) || OTHER; }

function drawMap() {
  const canvas = $("map");
  const size = canvas.clientWidth;
  const height = Math.round(Math.min(size * 0.75, 640));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(size * ratio); canvas.height = Math.round(height * ratio);
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, size, height);
  const pad = 16, w = size - 2 * pad, h = height - 2 * pad;
  const focused = mapState.highlight.size > 0;
  const large = mapState.points.length > 2000;
  const radius = large ? 1.6 : 4;
  // a large catalog is drawn faint, so where films crowd the colour deepens: its density
  const alpha = large ? 0.35 : 0.9;
  for (const p of mapState.points) {
    p.px = pad + p.x * w; p.py = pad + (1 - p.y) * h;
    ctx.globalAlpha = focused && !mapState.highlight.has(p.id) && p.id !== mapState.focus ? alpha * 0.4 : alpha;
    ctx.fillStyle = mapColor(p.group);
    ctx.beginPath(); ctx.arc(p.px, p.py, radius, 0, 2 * Math.PI); ctx.fill();
  }
  ctx.globalAlpha = 1;
  for (const p of mapState.points) {  // the film and its neighbours, on top
    if (p.id !== mapState.focus && !mapState.highlight.has(p.id)) continue;
    ctx.lineWidth = 2;
    ctx.strokeStyle = p.id === mapState.focus ? "#b3261e" : "#1d1d1f";
    ctx.beginPath(); ctx.arc(p.px, p.py, p.id === mapState.focus ? 8 : 5, 0, 2 * Math.PI); ctx.stroke();
  }
  if (large) labelGroups(ctx, size);
  if (mapState.points.length <= 60) {  // a small catalog: every title beside its point
    ctx.fillStyle = "#3c4043"; ctx.font = "12px system-ui, sans-serif";
    for (const p of mapState.points) {
      const right = p.px < size - 140;
      ctx.textAlign = right ? "left" : "right";
      ctx.fillText(p.title, p.px + (right ? 8 : -8), p.py + 4);
    }
  }
  const hovered = mapState.points[mapState.hover];
  if (hovered) {
    ctx.strokeStyle = "#1a73e8"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(hovered.px, hovered.py, 6, 0, 2 * Math.PI); ctx.stroke();
  }
  canvas.dataset.points = String(mapState.points.length);
}

// Each coloured group's name where most of its films are (the median of its points), so
// a large catalog's map says where its documentaries or its children's films lie.
function labelGroups(ctx, size) {
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  ctx.font = `bold ${size < 600 ? 10 : 13}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.lineWidth = 4;
  ctx.strokeStyle = "rgba(255,255,255,0.9)";
  for (const [group, colour] of mapState.colors) {
    const members = mapState.points.filter((p) => p.group === group);
    if (members.length < 20) continue;
    const x = Math.min(Math.max(median(members.map((p) => p.px)), 60), size - 60);
    const y = median(members.map((p) => p.py));
    ctx.strokeText(group, x, y);
    ctx.fillStyle = colour;
    ctx.fillText(group, x, y);
  }
}

function nearestPoint(event) {
  const box = $("map").getBoundingClientRect();
  const x = event.clientX - box.left, y = event.clientY - box.top;
  let best = -1, bestDistance = 10 * 10;  // within 10 px
  mapState.points.forEach((p, i) => {
    const d = (p.px - x) ** 2 + (p.py - y) ** 2;
    if (d < bestDistance) { best = i; bestDistance = d; }
  });
  return best;
}

async function showMap(focusId) {
  showView("map");
  status(["Drawing the map…"]);
  const colorBy = $("color_by").value || "genre";
  const answer = await api(`/map?color_by=${colorBy}`);
  if (!answer.ok) { apiError(answer); return; }
  const body = answer.body;
  mapState.points = body.points;
  mapState.colors = new Map(body.groups.slice(0, PALETTE.length).map((g, i) => [g.name, PALETTE[i]]));
  mapState.focus = focusId; mapState.highlight = new Set(); mapState.hover = -1;
  if (focusId) {
    const like = await api(`/films/${encodeURIComponent(focusId)}/similar?k=${K}`);
    if (like.ok) mapState.highlight = new Set(like.body.results.map((r) => r.id));
  }
  const legend = body.groups.slice(0, PALETTE.length).map((g) =>
    el("li", {}, el("span", { class: "swatch", style: `background:${mapColor(g.name)}` }), `${g.name} (${g.count})`));
  if (body.groups.length > PALETTE.length) legend.push(el("li", {}, el("span", { class: "swatch", style: `background:${OTHER}` }), "other"));
  $("map-legend").replaceChildren(...legend);
  const shown = body.points.length < body.total ? `${body.points.length} of ${body.total}` : `${body.total}`;
  status([`${shown} films; ${Math.round(100 * (body.explained_variance[0] + body.explained_variance[1]))}% of the vectors' variance is in these two directions.`,
    ...(focusId ? [" The film in red, its films like it ringed."] : [])]);
  drawMap();
}

$("map").addEventListener("mousemove", (event) => {
  const i = nearestPoint(event);
  if (i === mapState.hover) return;
  mapState.hover = i;
  const p = mapState.points[i];
  $("map-tip").textContent = p ? `${p.title} · ${p.group}` : "\u00a0";
  $("map").style.cursor = p ? "pointer" : "default";
  drawMap();
});

$("map").addEventListener("click", (event) => {
  const p = mapState.points[nearestPoint(event)];
  if (!p) return;
  const params = filterParams();
  params.set("film", p.id);
  go(params);
  window.scrollTo(0, 0);
});

// The keyboard walks the map too: arrows step from film to film from left to right (the
// tip says which), Enter opens the one reached.
$("map").addEventListener("keydown", (event) => {
  const order = mapState.points.map((p, i) => i).sort((a, b) => mapState.points[a].px - mapState.points[b].px);
  if (!order.length) return;
  const at = order.indexOf(mapState.hover);
  if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(event.key)) {
    event.preventDefault();
    const step = event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : -1;
    mapState.hover = order[at < 0 ? 0 : (at + step + order.length) % order.length];
    const p = mapState.points[mapState.hover];
    $("map-tip").textContent = `${p.title} · ${p.group}`;
    drawMap();
  } else if (event.key === "Enter" && mapState.hover >= 0) {
    const params = filterParams();
    params.set("film", mapState.points[mapState.hover].id);
    go(params);
  }
});

$("color_by").addEventListener("change", () => showMap(mapState.focus));
window.addEventListener("resize", () => { if (!$("map-view").hidden) drawMap(); });

function readState() {
  const p = new URLSearchParams(location.search);
  $("q").value = p.get("q") || "";
  for (const name of FILTERS) $(name).value = p.get(name) || "";
  if (FILTERS.some((n) => p.get(n))) $("filters").open = true;
  return p;
}

async function route() {
  navigation.abort();
  navigation = new AbortController();
  const p = readState();
  if (p.get("view") === "map") return showMap(p.get("film"));
  if (p.get("film")) return showFilm(p.get("film"));
  if (p.get("q")) return showQuery(p.get("q"));
  status([]);
  return showHome();
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
  const view = event.target.closest("a[data-view], a#film-on-map");
  if (view && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    go(new URLSearchParams(view.getAttribute("href").replace(/^[^?]*\??/, "")));
    return;
  }
  const link = event.target.closest("a[data-film]");
  // a film opened from a list is a click of the answer that listed it (not a taste)
  if (link && link.dataset.recommendation) sendEvent({ id: link.dataset.film }, "click", link.dataset.recommendation);
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  const params = filterParams();
  params.set("film", link.dataset.film);
  go(params);
  window.scrollTo(0, 0);
});

window.addEventListener("popstate", route);

// The context switches: what the page shows obeys them at once.
function showContext() {
  const { country, kids } = context();
  $("country").value = country || "";
  $("kids").checked = Boolean(kids);
}
function saveContext() {
  const country = $("country").value.trim().toUpperCase();
  if (country && !/^[A-Z]{2}$/.test(country)) {
    status(["Give the country as two letters, e.g. DK."], true);
    return;
  }
  localStorage.setItem(CONTEXT_STORE, JSON.stringify({ country, kids: $("kids").checked }));
  route();
}
$("country").addEventListener("change", saveContext);
$("kids").addEventListener("change", saveContext);
showContext();
route();
