/* freezeviz drawing core, shared by the notebook widget and the HTML report.
 *
 * Pan/zoom of one SVG in a pane, search, and everything that needs to know what an SVG
 * element stands for, which comes from the node map (freezeviz.render.nodemap: svg id ->
 * {key, kind, scope, attributes, box, members, node}). Nothing here reads tooltips.
 * No import/export: the widget puts this text in front of its ES module and the report
 * inlines it (inside a function, in strict mode) in its one script, so both run the same
 * code. Only FVGraph is meant for use outside this file. */
const MIN_ZOOM = 0.02, MAX_ZOOM = 8, PAD = 12, FIT_MAX = 1.25;
const XLINK = "http://www.w3.org/1999/xlink";
const COMPARED = { node: true, join: true, input: true };
const NODE_KINDS = { node: true, join: true, collapsed: true };

function all(root, sel) { return root ? Array.prototype.slice.call(root.querySelectorAll(sel)) : []; }

function cssId(id) {
  return window.CSS && CSS.escape ? CSS.escape(id) : id.replace(/[^A-Za-z0-9_-]/g, "\\$&");
}

// Graphviz names each element with its DOT name in a <title> ("#12"), which the browser
// would show on hover; move each link's tooltip into a <title> the browser shows instead.
function prepare(svg) {
  all(svg, "title").forEach(function (t) { t.remove(); });
  all(svg, "g.node a, g.cluster a").forEach(function (a) {
    const tip = a.getAttributeNS(XLINK, "title") || a.getAttribute("xlink:title");
    if (!tip) return;
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = tip;
    a.insertBefore(t, a.firstChild);
  });
  return svg;
}

// The drawing's size in CSS pixels (graphviz sizes are points), written back as px.
function measure(svg) {
  const vb = svg.viewBox && svg.viewBox.baseVal;
  let w, h;
  if (vb && vb.width) {
    w = vb.width * 4 / 3; h = vb.height * 4 / 3;
  } else {
    w = parseFloat(svg.getAttribute("width")) || 400;
    h = parseFloat(svg.getAttribute("height")) || 300;
  }
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  return { w: w, h: h };
}

// --- pan and zoom ---------------------------------------------------------------------
// One pane: `view` clips, `canvas` (holding the SVG) is moved and scaled. Wheel zooms at
// the pointer, drag pans (text is never selected), a click without drag calls onClick.
function PanZoom(view, canvas, opts) {
  this.view = view; this.canvas = canvas; this.opts = opts || {};
  this.k = 1; this.x = 0; this.y = 0; this.w = 0; this.h = 0;
  this.touched = false;  // the user moved the view since the last fit
  view.style.userSelect = "none";
  view.style.webkitUserSelect = "none";
  view.style.touchAction = "none";
  canvas.style.transformOrigin = "0 0";
  canvas.classList.add("fv-drawing");  // graph.css: hover, search and pulse looks
  this.bind();
}

PanZoom.prototype.apply = function () {
  this.canvas.style.transform = "translate(" + this.x + "px, " + this.y + "px) scale(" + this.k + ")";
  if (this.opts.onChange) this.opts.onChange(this);
};

PanZoom.prototype.show = function (svg) {
  const size = svg ? measure(prepare(svg)) : { w: 0, h: 0 };
  this.w = size.w; this.h = size.h;
  return size;
};

// "all": the whole drawing; "one": natural size; "auto": the whole drawing when it stays
// readable, else readable from the top with the input in the middle. False if not shown.
PanZoom.prototype.fit = function (mode) {
  const vw = this.view.clientWidth, vh = this.view.clientHeight;
  if (!vw || !vh || !this.w || !this.h) return false;
  const kw = (vw - 2 * PAD) / this.w, whole = Math.min(kw, (vh - 2 * PAD) / this.h);
  let top = false;
  if (mode === "one") this.k = 1;
  else if (mode === "all" || whole >= 0.5) this.k = Math.min(whole, FIT_MAX);
  else { this.k = Math.min(1, Math.max(kw, 0.6)); top = true; }
  this.k = Math.max(this.k, MIN_ZOOM);
  const cw = this.w * this.k, ch = this.h * this.k;
  this.x = cw <= vw ? (vw - cw) / 2 : PAD;
  this.y = ch <= vh && !top ? (vh - ch) / 2 : PAD;
  this.apply();
  const input = top && cw > vw ? this.canvas.querySelector("g.node.fv-input") : null;
  if (input) {
    this.center(input, { vertical: false });
    this.x = Math.min(PAD, Math.max(vw - cw - PAD, this.x));
    this.apply();
  }
  this.touched = false;
  return true;
};

PanZoom.prototype.zoomAt = function (factor, cx, cy) {
  const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.k * factor));
  this.x = cx - (cx - this.x) * (k / this.k);
  this.y = cy - (cy - this.y) * (k / this.k);
  this.k = k;
  this.touched = true;
  this.apply();
};

PanZoom.prototype.zoomCenter = function (factor) {
  this.zoomAt(factor, this.view.clientWidth / 2, this.view.clientHeight / 2);
};

// Move so that element g is in the middle; `readable` first zooms in to a legible size.
PanZoom.prototype.center = function (g, opts) {
  opts = opts || {};
  const vr = this.view.getBoundingClientRect();
  let r = g.getBoundingClientRect();
  if (opts.readable && this.k < 0.6) {
    this.zoomAt(0.9 / this.k, r.left + r.width / 2 - vr.left, r.top + r.height / 2 - vr.top);
    r = g.getBoundingClientRect();
  }
  this.x += vr.left + vr.width / 2 - (r.left + r.width / 2);
  if (opts.vertical !== false) this.y += vr.top + vr.height / 2 - (r.top + r.height / 2);
  this.touched = true;
  this.apply();
};

PanZoom.prototype.bind = function () {
  const self = this, view = this.view;
  let drag = null;
  const enabled = function () { return self.w > 0 && (!self.opts.enabled || self.opts.enabled()); };
  view.addEventListener("wheel", function (e) {
    if (!enabled()) return;
    e.preventDefault();
    const r = view.getBoundingClientRect();
    const step = e.deltaMode === 1 ? 0.05 : e.deltaMode === 2 ? 1 : 0.0015;
    self.zoomAt(Math.exp(-e.deltaY * step), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  view.addEventListener("pointerdown", function (e) {
    if (e.button !== 0 || !enabled()) return;
    drag = { px: e.clientX, py: e.clientY, x: self.x, y: self.y, moved: false, id: e.pointerId,
      target: e.target };
  });
  view.addEventListener("pointermove", function (e) {
    if (!drag || e.pointerId !== drag.id) return;
    const dx = e.clientX - drag.px, dy = e.clientY - drag.py;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) {
      drag.moved = true;
      view.classList.add("fv-dragging");
      try { view.setPointerCapture(e.pointerId); } catch (err) { /* pointer already gone */ }
    }
    if (drag.moved) {
      self.x = drag.x + dx; self.y = drag.y + dy; self.touched = true;
      self.apply();
    }
  });
  const end = function (e) {
    if (!drag || e.pointerId !== drag.id) return;
    const d = drag;
    drag = null;
    view.classList.remove("fv-dragging");
    if (d.moved || e.type !== "pointerup" || !self.opts.onClick) return;
    const g = d.target && d.target.closest ? d.target.closest("g.node") : null;
    self.opts.onClick(g && self.canvas.contains(g) ? g : null);
  };
  view.addEventListener("pointerup", end);
  view.addEventListener("pointercancel", end);
  view.addEventListener("dblclick", function (e) {
    if (!enabled()) return;
    const r = view.getBoundingClientRect();
    self.zoomAt(e.shiftKey ? 0.6 : 1.6, e.clientX - r.left, e.clientY - r.top);
  });
};

PanZoom.prototype.dragging = function () { return this.view.classList.contains("fv-dragging"); };

// --- what the elements stand for ------------------------------------------------------
function searchText(g, ref) {
  const parts = all(g, "text").map(function (t) { return t.textContent; });
  if (ref) {
    parts.push(ref.key, ref.scope || "", ref.box || "");
    (ref.attributes || []).forEach(function (a) { parts.push("self." + a); });
  }
  return parts.join("\n").toLowerCase();
}

// The node groups whose labels or node-map entry contain `query` (case-insensitive).
function search(root, map, query) {
  const q = (query || "").trim().toLowerCase();
  if (!q) return [];
  return all(root, "g.node").filter(function (g) {
    return searchText(g, (map || {})[g.id]).indexOf(q) >= 0;
  });
}

// SVG ids of the nodes (and collapsed boxes) that read, write or stand for self.<path>.
function attributeHits(map, path) {
  return Object.keys(map || {}).filter(function (id) {
    const ref = map[id];
    return NODE_KINDS[ref.kind] && (ref.attributes || []).indexOf(path) >= 0;
  });
}

// --- the central act of freezing: a GetAttr and the constant it became ---------------
// A node's part in freezing, read from its key (freezeviz.data.diff.node_key): "read" for a
// GetAttr, "const" for a constant standing for attributes, "box" for a collapsed box.
function linkRole(ref) {
  if (!ref || !NODE_KINDS[ref.kind] || !(ref.attributes || []).length) return null;
  if (ref.kind === "collapsed") return "box";
  if (ref.key.indexOf("prim::GetAttr:") === 0) return "read";
  if (ref.key.indexOf("const:") === 0) return "const";
  return null;
}

function keyName(key, prefix) { return key.slice(prefix.length, key.lastIndexOf("#")); }

function linkName(ref) {
  const role = linkRole(ref);
  if (role === "read") return "GetAttr self." + keyName(ref.key, "prim::GetAttr:");
  if (role === "box") return "the collapsed self." + ref.box;
  const name = keyName(ref.key, "const:");
  return /^[\w.]+$/.test(name) ? "the constant %" + name
    : "a constant for self." + ref.attributes.join(", self.");
}

function nameList(refs) {
  // a GetAttr read twice is one name said once
  const names = refs.map(linkName).filter(function (n, i, a) { return a.indexOf(n) === i; });
  const shown = names.slice(0, 3);
  if (names.length > 3) shown.push((names.length - 3) + " more");
  return shown.join(", ");
}

// For a GetAttr or constant (svg id `id` in `map`) with no node of the same key in
// `other`: the ids of other's GetAttrs, constants and collapsed boxes sharing an attribute
// path with it, and a line saying how they are linked (`later`: other shows a later stage).
// Null when the node has a twin by key, or is neither a GetAttr nor a constant.
function attributeLinks(map, id, other, later) {
  const ref = (map || {})[id];
  const role = linkRole(ref);
  if (role !== "read" && role !== "const") return null;
  other = other || {};
  if (presentKeys(other)["n:" + ref.key]) return null;
  const ids = Object.keys(other).filter(function (oid) {
    const o = other[oid];
    return linkRole(o) && o.attributes.some(function (a) { return ref.attributes.indexOf(a) >= 0; });
  });
  const of = function (r) { return ids.filter(function (oid) { return linkRole(other[oid]) === r; })
    .map(function (oid) { return other[oid]; }); };
  const parts = [];
  const consts = of("const"), reads = of("read"), boxes = of("box");
  if (consts.length) parts.push((later === false ? "made from " : "became ") + nameList(consts));
  if (reads.length) parts.push("read by " + nameList(reads) + " before freezing");
  if (boxes.length) parts.push("inside " + nameList(boxes));
  const text = linkName(ref) + (parts.length ? " " + parts.join("; ")
    : " is not in this stage, nor anything reading self." + ref.attributes.join(", self."));
  return { ids: ids, text: text };
}

function presentKeys(map) {
  const keys = {};
  Object.keys(map).forEach(function (id) {
    const ref = map[id];
    if (ref.kind === "input") keys["in:" + ref.key] = true;
    else if (COMPARED[ref.kind]) keys["n:" + ref.key] = true;
    (ref.members || []).forEach(function (k) { keys["n:" + k] = true; });
  });
  return keys;
}

function missing(map, keys) {
  return Object.keys(map).filter(function (id) {
    const ref = map[id];
    return COMPARED[ref.kind] && !keys[(ref.kind === "input" ? "in:" : "n:") + ref.key];
  });
}

// Nodes of b whose key a lacks (added) and of a that b lacks (removed); a node inside a
// collapsed box counts as present. Null when a drawing was cut short (keys unknown).
function diffMarks(a, b) {
  const cut = function (m) { return Object.keys(m).some(function (id) { return m[id].kind === "note"; }); };
  if (!a || !b || cut(a) || cut(b)) return null;
  return { added: missing(b, presentKeys(a)), removed: missing(a, presentKeys(b)) };
}

// Mark the matches of `query` (class fv-match; the rest is dimmed by graph.css); returns them.
function showSearch(root, map, query) {
  clear(root, "fv-match");
  const hits = search(root, map, query);
  hits.forEach(function (g) { g.classList.add("fv-match"); });
  const svg = root ? root.querySelector("svg") : null;
  if (svg) svg.classList.toggle("fv-searching", Boolean((query || "").trim()));
  return hits;
}

// Make g blink twice (a search jump lands on it).
function pulse(g) {
  g.classList.remove("fv-pulse");
  void g.getBoundingClientRect();
  g.classList.add("fv-pulse");
}

function byId(root, id) { return id && root ? root.querySelector("#" + cssId(id)) : null; }

function mark(root, ids, cls) {
  const out = [];
  ids.forEach(function (id) {
    const g = byId(root, id);
    if (g) { g.classList.add(cls); out.push(g); }
  });
  return out;
}

function clear(root, cls) { all(root, "." + cls).forEach(function (g) { g.classList.remove(cls); }); }

const FVGraph = { PanZoom: PanZoom, prepare: prepare, measure: measure, search: search,
  showSearch: showSearch, pulse: pulse,
  attributeHits: attributeHits, attributeLinks: attributeLinks, diffMarks: diffMarks, mark: mark, clear: clear, byId: byId,
  cssId: cssId };
