/* freezeviz drawing core, shared by the notebook widget and the HTML report.
 *
 * Pan/zoom of one SVG in a pane, search, and everything that needs to know what an SVG
 * element stands for, which comes from the node map (freezeviz.render.nodemap: svg id ->
 * {key, kind, scope, attributes, box, members, node, expand}). Nothing here reads tooltips.
 * No import/export: the widget puts this text in front of its ES module and the report
 * inlines it (inside a function, in strict mode) in its one script, so both run the same
 * code. Only FVGraph is meant for use outside this file. */
const MIN_ZOOM = 0.02, MAX_ZOOM = 8, PAD = 12, FIT_MAX = 1.25;
const LEGIBLE_PX = 9;  // the smallest font size (CSS px) an opening view may show
const EXPAND = "\u2295", COLLAPSE = "\u2296";
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
  this.legible = 0.5;  // the scale at which the drawing's smallest text is LEGIBLE_PX high
  this.map = null;
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

// Show `svg` (already in the canvas); with its node map, boxes that open and clusters that
// close get their controls (see markExpanders).
PanZoom.prototype.show = function (svg, map) {
  const size = svg ? measure(prepare(svg)) : { w: 0, h: 0 };
  this.w = size.w; this.h = size.h;
  this.legible = legibleScale(svg);
  this.map = map || null;
  if (svg && map) markExpanders(svg, map);
  return size;
};

// Graphviz writes sizes in points and measure() draws 1 pt as 4/3 px at scale 1.
function legibleScale(svg) {
  let min = Infinity;
  all(svg, "text").forEach(function (t) {
    const f = parseFloat(t.getAttribute("font-size"));
    if (f > 0 && f < min) min = f;
  });
  return min === Infinity ? 0.5 : LEGIBLE_PX / (min * 4 / 3);
}

// "all": the whole drawing; "one": natural size; "auto": the whole drawing when it stays
// readable, else readable from the top with the input in the middle. False if not shown.
PanZoom.prototype.fit = function (mode) {
  const vw = this.view.clientWidth, vh = this.view.clientHeight;
  if (!vw || !vh || !this.w || !this.h) return false;
  const kw = (vw - 2 * PAD) / this.w, whole = Math.min(kw, (vh - 2 * PAD) / this.h);
  let top = false;
  if (mode === "one") this.k = 1;
  else if (mode === "all" || whole >= this.legible) this.k = Math.min(whole, FIT_MAX);
  else { this.k = Math.max(this.legible, Math.min(1, kw)); top = true; }
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
    if (d.moved || e.type !== "pointerup") return;
    const req = d.target && d.target.closest && d.target.closest(".fv-expander")
      ? self.expandRequest(d.target) : null;
    if (req && self.opts.onExpand) { self.opts.onExpand(req); return; }
    if (!self.opts.onClick) return;
    const g = d.target && d.target.closest ? d.target.closest("g.node") : null;
    self.opts.onClick(g && self.canvas.contains(g) ? g : null);
  };
  view.addEventListener("pointerup", end);
  view.addEventListener("pointercancel", end);
  view.addEventListener("dblclick", function (e) {
    if (!enabled()) return;
    const req = self.opts.onExpand ? self.expandRequest(e.target) : null;
    if (req) { self.opts.onExpand(req); return; }  // double-click opens or closes a box
    const r = view.getBoundingClientRect();
    self.zoomAt(e.shiftKey ? 0.6 : 1.6, e.clientX - r.left, e.clientY - r.top);
  });
};

PanZoom.prototype.dragging = function () { return this.view.classList.contains("fv-dragging"); };

// --- expanding in place -----------------------------------------------------------------
// A node-map entry's `expand` is the token to add to draw(..., expanded=) to open a closed
// box (a module path, or "if:<key>" for a check), or, on an opened module cluster or check,
// the token to remove to close it. The pane calls opts.onExpand({path, open, anchor}) when a
// control (⊕ / ⊖ label line) is clicked or a box double-clicked; whoever owns the pane
// answers with a new drawing through swap(). FVGraph.Expansion keeps the set for linked panes.
function markExpanders(svg, map) {
  all(svg, "g.node, g.cluster").forEach(function (g) {
    const ref = map[g.id];
    if (!ref || !ref.expand) return;
    const glyph = ref.kind === "collapsed" ? EXPAND : COLLAPSE;
    const t = all(g, "text").filter(function (x) { return x.textContent.indexOf(glyph) === 0; })[0];
    g.classList.add(ref.kind === "collapsed" ? "fv-closed" : "fv-opened");
    if (t) {
      t.classList.add("fv-expander");
      t.setAttribute("role", "button");
    }
  });
}

// The request for the box or opened cluster element `target` is in, or null.
PanZoom.prototype.expandRequest = function (target) {
  const map = this.map || {};
  let g = target && target.closest ? target.closest("g.node, g.cluster") : null;
  while (g && this.canvas.contains(g)) {
    const ref = map[g.id];
    if (ref && ref.expand && (ref.kind === "collapsed" || target.closest(".fv-expander"))) {
      return { path: ref.expand, open: ref.kind === "collapsed", anchor: g.id };
    }
    g = g.parentNode && g.parentNode.closest ? g.parentNode.closest("g.cluster") : null;
  }
  return null;
};

// The element standing for token `path` (closed box or opened cluster) in the drawing shown.
PanZoom.prototype.expandElement = function (path) {
  const map = this.map || {};
  const ids = Object.keys(map).filter(function (id) { return map[id].expand === path; });
  for (let i = 0; i < ids.length; i++) {
    const g = byId(this.canvas, ids[i]);
    if (g) return g;
  }
  return null;
};

// Where an element is on screen: its ⊕ / ⊖ control when it has one (a box and the cluster
// it opens into both have it on their first line), else its middle.
function centreOf(el, view) {
  const c = el.querySelector("text.fv-expander") || el;
  const r = c.getBoundingClientRect(), v = view.getBoundingClientRect();
  return { x: r.left + r.width / 2 - v.left, y: r.top + r.height / 2 - v.top };
}

// Replace the drawing by `svg` (+ its node map), keeping the scale and keeping the control
// of token `path` where it was on screen (under the pointer that clicked it).
PanZoom.prototype.swap = function (svg, map, path) {
  const old = path ? this.expandElement(path) : null;
  const at = old ? centreOf(old, this.view)
    : { x: this.view.clientWidth / 2, y: this.view.clientHeight / 2 };
  this.canvas.textContent = "";
  if (svg) this.canvas.appendChild(svg);
  this.show(svg, map);
  this.apply();
  const now = path ? this.expandElement(path) : null;
  if (now) {
    const c = centreOf(now, this.view);
    this.x += at.x - c.x; this.y += at.y - c.y;
    this.apply();
  }
  return Boolean(now);
};

// The set of open tokens shared by linked panes, and the trail of modules for breadcrumbs.
function Expansion() { this.paths = []; this.last = ""; }

function isModule(p) { return p.indexOf("if:") !== 0; }

function within(p, top) { return p === top || p.indexOf(top + ".") === 0; }

Expansion.prototype.apply = function (req) {
  const p = req.path;
  if (req.open) {
    if (isModule(p)) {  // a module opens with its parents
      const parts = p.split(".");
      for (let i = 1; i <= parts.length; i++) this.add(parts.slice(0, i).join("."));
      this.last = p;
    } else { this.add(p); this.last = p; }
  } else {
    this.paths = this.paths.filter(function (q) { return isModule(p) ? !within(q, p) : q !== p; });
    if (isModule(p) && within(this.last, p)) this.last = p.indexOf(".") > 0 ? p.slice(0, p.lastIndexOf(".")) : "";
    else if (this.last === p) this.last = "";
  }
  return this.list();
};

Expansion.prototype.add = function (p) { if (this.paths.indexOf(p) < 0) this.paths.push(p); };

Expansion.prototype.list = function () { return this.paths.slice().sort(); };

// Modules from the root to the one opened last: ["", "layer3", "layer3.1"].
Expansion.prototype.trail = function () {
  const out = [""];
  if (!this.last) return out;
  if (!isModule(this.last)) return out.concat([this.last]);
  const parts = this.last.split(".");
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join("."));
  return out;
};

// Go back up to module `top` ("" for the root): close every module below it.
Expansion.prototype.upTo = function (top) {
  this.paths = this.paths.filter(function (q) {
    return !isModule(q) || (top && within(top, q));
  });
  this.last = top;
  return this.list();
};

// Breadcrumbs (root › layer3 › layer3.1) in `el`; onPick(path) when one is clicked.
function crumbs(el, expansion, onPick) {
  el.textContent = "";
  const trail = expansion.trail();
  trail.forEach(function (p, i) {
    if (i) el.appendChild(document.createTextNode(" \u203a "));
    const b = document.createElement("button");
    b.type = "button";
    b.className = "fv-crumb";
    b.textContent = !p ? "root" : isModule(p) ? p : "control flow";
    b.title = p ? "close the modules inside " + p : "close every opened module";
    b.disabled = i === trail.length - 1;
    b.addEventListener("click", function () { onPick(p); });
    el.appendChild(b);
  });
  el.hidden = trail.length < 2;
}

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
  cssId: cssId, Expansion: Expansion, crumbs: crumbs, markExpanders: markExpanders };
