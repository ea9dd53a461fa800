// freezeviz inspector front end: an anywidget ES module (no build step). The widget puts
// graph.js (FVGraph: pan/zoom, search, node map) in front of this text.
//
// Two views, picked by the model's `_fv_kind` trait:
//   "graph": one SVG drawing with pan (drag), zoom (wheel, buttons), fit, search, hover, click
//   "table": the attribute table with "preserve" boxes, filters and fate chips
// Only ids, class names and text of the SVG are read; nothing from the model is evaluated.

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, title, cls) {
  const b = h("button", "fv-btn" + (cls ? " " + cls : ""), text);
  b.type = "button";
  b.title = title;
  return b;
}

// --- graph pane ------------------------------------------------------------------------------

function graphDom(el) {
  el.classList.add("fv-gv");
  const d = { bar: h("div", "fv-gv-bar"), label: h("span", "fv-gv-label"), search: h("input", "fv-gv-search"),
    count: h("span", "fv-gv-count"), msg: h("div", "fv-gv-msg"), vp: h("div", "fv-gv-viewport"),
    stage: h("div", "fv-gv-stage") };
  d.search.type = "search";
  d.search.placeholder = "search: op, self.attr";
  d.search.title = "Highlight nodes whose label, key, scope or attributes contain this text; Enter jumps to the next";
  d.zoomOut = button("−", "Zoom out");
  d.zoomIn = button("+", "Zoom in");
  d.fit = button("fit", "Fit the whole drawing in the pane");
  d.actual = button("1:1", "Natural size");
  d.bar.append(d.label, d.search, d.count, h("span", "fv-gv-spacer"), d.zoomOut, d.zoomIn, d.actual, d.fit);
  const busy = h("div", "fv-gv-busy");
  busy.append(h("span", "fv-spin"), h("span", "", " freezing…"));
  const hint = h("div", "fv-gv-hint", "wheel: zoom · drag: pan · click: details · hover: find in other pane");
  d.vp.append(d.stage, busy, hint);
  el.append(d.bar, d.msg, d.vp);
  return d;
}

class GraphPane {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.d = graphDom(el);
    this.hits = [];
    this.hitIndex = -1;
    this.needsFit = true;
    this.lastHover = "";
    this.searchTimer = null;
    this.pz = new FVGraph.PanZoom(this.d.vp, this.d.stage, {
      enabled: () => !el.classList.contains("fv-gv-isbusy"),
      onClick: (g) => this.click(g),
    });
  }

  save(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }

  setSvg() {
    const { w: oldW, h: oldH } = this.pz;
    this.d.stage.innerHTML = this.model.get("svg") || "";
    const { w, h: hgt } = this.pz.show(this.d.stage.querySelector("svg"));
    // the same picture redrawn (e.g. other colours after a re-freeze): keep the user's view
    const same = this.pz.touched && w && Math.abs(w - oldW) <= 0.02 * oldW && Math.abs(hgt - oldH) <= 0.02 * oldH;
    if (!same) this.needsFit = !this.pz.fit("auto");
    this.showSelected();
    this.showHover();
    this.applyQuery(false);
  }

  showHover() {
    FVGraph.clear(this.d.stage, "fv-hover");
    const id = this.model.get("hovered");
    const found = FVGraph.mark(this.d.stage, id ? [id] : [], "fv-hover").length > 0;
    // no twin by id: the nodes linked to it by an attribute path (set by Python), and how
    const text = id && !found ? this.model.get("link_text") || "" : "";
    if (text) FVGraph.mark(this.d.stage, this.model.get("linked") || [], "fv-hover");
    this.d.label.dataset.link = text;
    this.el.classList.toggle("fv-gv-linked", Boolean(text));
    this.el.classList.toggle("fv-gv-missing", Boolean(id) && !found && !text);
  }

  showSelected() {
    FVGraph.clear(this.d.stage, "fv-selected");
    FVGraph.mark(this.d.stage, this.model.get("selected") || [], "fv-selected");
  }

  applyQuery(sync) {
    const query = this.model.get("query") || "", q = query.trim().toLowerCase();
    const search = this.d.search;
    if (search.value.trim().toLowerCase() !== q && document.activeElement !== search) search.value = query;
    this.hits = FVGraph.showSearch(this.d.stage, this.model.get("node_map"), q);
    this.hitIndex = -1;
    const n = this.hits.length;
    this.d.count.textContent = q ? `${n} match${n === 1 ? "" : "es"}` : "";
    if (sync && this.model.get("matches") !== n) this.save("matches", n);
  }

  jump() {
    if (!this.hits.length) return;
    this.hitIndex = (this.hitIndex + 1) % this.hits.length;
    const g = this.hits[this.hitIndex];
    this.pz.center(g, { readable: true });
    FVGraph.pulse(g);
    this.d.count.textContent = `${this.hitIndex + 1} / ${this.hits.length}`;
  }

  click(g) {
    if (!g || !g.id) return;
    if (this.model.get("clicked") === g.id) this.model.set("clicked", "");
    this.save("clicked", g.id);
  }

  bindSearch() {
    const search = this.d.search;
    search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.save("query", search.value), 200);
    });
    search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      clearTimeout(this.searchTimer);
      if ((this.model.get("query") || "") !== search.value) this.save("query", search.value);
      this.jump();
    });
  }

  bindPointer() {
    const setHover = (id) => {
      if (id === this.lastHover) return;
      this.lastHover = id;
      this.save("hovered", id);
    };
    this.d.stage.addEventListener("pointerover", (e) => {
      if (this.pz.dragging()) return;
      const g = e.target.closest ? e.target.closest("g.node") : null;
      setHover(g && g.id ? g.id : "");
    });
    this.d.vp.addEventListener("pointerleave", () => setHover(""));
    const d = this.d, pz = this.pz;
    d.zoomIn.addEventListener("click", () => pz.zoomCenter(1.25));
    d.zoomOut.addEventListener("click", () => pz.zoomCenter(0.8));
    d.actual.addEventListener("click", () => pz.zoomCenter(1 / pz.k));
    d.fit.addEventListener("click", () => pz.fit("all"));
  }

  listen() {
    const m = this.model, d = this.d;
    const handlers = {
      svg: () => this.setSvg(),
      node_map: () => this.applyQuery(false),
      label: () => { d.label.textContent = m.get("label"); },
      message: () => {
        d.msg.textContent = m.get("message");
        d.msg.title = m.get("message");
        d.msg.style.display = m.get("message") ? "" : "none";
      },
      busy: () => {
        this.el.classList.toggle("fv-gv-isbusy", m.get("busy"));
        this.el.dataset.fvBusy = m.get("busy") ? "1" : "0";
      },
      revision: () => { this.el.dataset.fvShown = String(m.get("revision")); },
      height: () => { d.vp.style.height = m.get("height"); },
      hovered: () => { this.lastHover = m.get("hovered"); this.showHover(); },
      linked: () => this.showHover(),
      link_text: () => this.showHover(),
      selected: () => this.showSelected(),
      query: () => this.applyQuery(true),
    };
    for (const [name, fn] of Object.entries(handlers)) m.on(`change:${name}`, fn);
    for (const name of ["label", "message", "busy", "height", "svg", "revision"]) handlers[name]();
    return () => {
      for (const [name, fn] of Object.entries(handlers)) m.off(`change:${name}`, fn);
    };
  }
}

function renderGraph({ model, el }) {
  const pane = new GraphPane(model, el);
  pane.bindSearch();
  pane.bindPointer();
  const ro = new ResizeObserver(() => {
    if (pane.needsFit) pane.needsFit = !pane.pz.fit("auto");
  });
  ro.observe(pane.d.vp);
  const stop = pane.listen();
  return () => {
    ro.disconnect();
    clearTimeout(pane.searchTimer);
    stop();
  };
}

// --- attribute table -------------------------------------------------------------------------

function checkbox(text, title) {
  const lab = h("label", "fv-at-opt");
  const box = h("input");
  box.type = "checkbox";
  lab.title = title;
  lab.append(box, document.createTextNode(" " + text));
  return [lab, box];
}

function tableDom(el) {
  el.classList.add("fv-at");
  const d = { bar: h("div", "fv-at-bar"), filter: h("input", "fv-at-filter"), count: h("span", "fv-at-count"),
    methodsRow: h("div", "fv-at-methods"), wrap: h("div", "fv-at-wrap"), head: h("thead"), body: h("tbody"),
    empty: h("div", "fv-at-empty", "No attribute matches the filters.") };
  d.filter.type = "search";
  d.filter.placeholder = "filter attributes";
  const [keptLab, onlyKept] = checkbox("only kept", "Show only attributes the frozen module still holds");
  const [mutLab, onlyMut] = checkbox("only mutated", "Show only attributes a method writes");
  const [trainLab, showTraining] = checkbox("training flags", "Show the `training` flag of every module");
  Object.assign(d, { onlyKept, onlyMut, showTraining });
  const busy = h("span", "fv-at-busy");
  busy.append(h("span", "fv-spin"), h("span", "", " freezing…"));
  d.bar.append(d.filter, keptLab, mutLab, trainLab, d.count, busy);
  const hr = h("tr");
  for (const [text, title, cls] of [["keep", "preserve: pass this name in preserved_attrs", "fv-at-keep"],
    ["attribute", "path from the module root; kind and type below", "fv-at-attr"],
    ["fate", "what freezing did to it", "fv-at-fate"], ["why", "", "fv-at-why"]]) {
    const th = h("th", cls, text);
    if (title) th.title = title;
    hr.append(th);
  }
  d.head.append(hr);
  const table = h("table", "fv-at-table");
  table.append(d.head, d.body);
  d.wrap.append(table, d.empty);
  el.append(d.bar, d.methodsRow, d.wrap);
  return d;
}

function fateChip(fate, colors) {
  const c = colors[fate] || ["#eee", "#999", fate];
  const s = h("span", "fv-chip", c[2] || fate);
  s.dataset.fate = fate;
  s.title = fate;
  s.style.background = c[0];
  s.style.borderColor = c[1];
  return s;
}

function attributeCell(r) {
  const td = h("td", "fv-at-attr");
  const path = h("div", "fv-at-path");
  r.path.split(".").forEach((part, i) => {  // allow line breaks after the dots
    if (i) path.append(".", document.createElement("wbr"));
    path.append(part);
  });
  path.title = "self." + r.path;
  const sub = h("div", "fv-at-sub", r.kind + " · " + r.type);
  sub.title = r.type;
  td.append(path, sub);
  return td;
}

function whyCell(r) {
  const td = h("td", "fv-at-why");
  const why = h("div", "fv-at-whytext", r.why);
  why.title = r.why;
  td.append(why);
  if (r.warning) td.append(h("div", "fv-at-warn", "⚠ " + r.warning));
  return td;
}

// Whether the set of names `list` is one of `sets` (lists of names, in any order).
function setIn(list, sets) {
  const key = [...list].sort().join("\n");
  return (sets || []).some((s) => [...s].sort().join("\n") === key);
}

class AttributeTable {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.d = tableDom(el);
    this.pending = null;
    this.timer = null;
  }

  preserved() { return new Set(this.pending || this.model.get("preserved") || []); }

  lockedNames() {
    return new Set((this.model.get("methods") || []).filter((m) => m.locked).map((m) => m.name));
  }

  toggle(name, on) {
    const list = (this.pending || this.model.get("preserved") || []).filter((n) => n !== name);
    if (on) list.push(name);
    this.pending = list;
    this.showBusy();
    clearTimeout(this.timer);
    // a set frozen before costs nothing: send it now; a new one waits for more clicks
    if (setIn(list, this.model.get("cached_sets"))) this.flush();
    else this.timer = setTimeout(() => this.flush(), this.model.get("debounce_ms"));
  }

  flush() {
    clearTimeout(this.timer);
    if (this.pending === null) return;
    this.model.set("preserved", this.pending);
    this.pending = null;
    this.showBusy();
    this.model.save_changes();
  }

  // data-fv-busy: "1" while a click waits to be sent or a freeze runs
  showBusy() {
    const busy = Boolean(this.model.get("busy")), pending = this.pending !== null;
    this.el.classList.toggle("fv-at-pending", pending);
    this.el.classList.toggle("fv-at-isbusy", busy);
    this.el.dataset.fvBusy = busy || pending ? "1" : "0";
  }

  keepBox(name, checked, disabled) {
    const box = h("input");
    box.type = "checkbox";
    box.dataset.name = name;
    box.checked = checked;
    box.disabled = disabled;
    box.addEventListener("change", () => {
      if (this.model.get("busy")) box.checked = !box.checked;  // a freeze runs: not now
      else this.toggle(name, box.checked);
    });
    return box;
  }

  buildMethods() {
    const row = this.d.methodsRow, methods = this.model.get("methods") || [];
    row.textContent = "";
    if (!methods.length) return;
    row.append(h("span", "fv-at-mlabel", "methods:"));
    const pres = this.preserved();
    for (const m of methods) {
      const lab = h("label", "fv-at-method" + (m.kept ? "" : " fv-at-gone"));
      const box = this.keepBox(m.name, m.locked || pres.has(m.name), Boolean(m.locked));
      lab.title = m.locked ? "forward is always kept" :
        (m.kept ? "kept on the frozen module" : "not kept: freezing drops methods it is not asked to preserve");
      lab.append(box, document.createTextNode(" " + m.name + "()"));
      row.append(lab);
    }
  }

  buildRow(r, pres, colors) {
    const tr = h("tr");
    tr.dataset.path = r.path;
    tr.dataset.survives = r.survives ? "1" : "";
    tr.dataset.mutated = r.mutated ? "1" : "";
    tr.dataset.training = r.path === "training" || r.path.endsWith(".training") ? "1" : "";
    tr.dataset.search = (r.path + " " + r.kind + " " + r.type + " " + r.fate + " " + r.fate_label).toLowerCase();
    if (r.path === this.model.get("selected")) tr.classList.add("fv-at-sel");
    const keep = h("td", "fv-at-keep");
    const box = this.keepBox(r.path, pres.has(r.path), false);
    box.title = `preserve self.${r.path}`;
    box.addEventListener("click", (e) => e.stopPropagation());
    keep.append(box);
    const fate = h("td", "fv-at-fate");
    fate.append(fateChip(r.fate, colors));
    tr.append(keep, attributeCell(r), fate, whyCell(r));
    tr.addEventListener("click", () => {
      if (this.model.get("clicked") === r.path) this.model.set("clicked", "");
      this.model.set("clicked", r.path);
      this.model.save_changes();
    });
    return tr;
  }

  // The rows shown: rows as last sent whole, each replaced by its entry in row_patch (the
  // rows changed since) when it has one.
  currentRows() {
    const patch = this.model.get("row_patch") || {};
    return (this.model.get("rows") || []).map((r) => patch[r.path] || r);
  }

  buildRows() {
    const colors = this.model.get("fate_colors") || {}, pres = this.preserved();
    const frag = document.createDocumentFragment();
    this.shown = this.currentRows().map((r) => {
      const tr = this.buildRow(r, pres, colors);
      frag.append(tr);
      return { row: r, key: JSON.stringify(r), tr };
    });
    this.d.body.textContent = "";
    this.d.body.append(frag);
    this.applyFilter();
  }

  // Same attributes in the same order: replace only the rows whose content changed (a new
  // preserved set changes a few fates), so the table is neither rebuilt nor laid out again.
  updateRows() {
    const rows = this.currentRows(), shown = this.shown || [];
    if (rows.length !== shown.length || rows.some((r, i) => r.path !== shown[i].row.path)) return this.buildRows();
    const colors = this.model.get("fate_colors") || {}, pres = this.preserved();
    let changed = false;
    rows.forEach((r, i) => {
      const cur = shown[i];
      if (cur.row === r) return;
      const key = JSON.stringify(r);
      if (key !== cur.key) {
        const tr = this.buildRow(r, pres, colors);
        cur.tr.replaceWith(tr);
        Object.assign(cur, { tr, key });
        changed = true;
      }
      cur.row = r;
    });
    if (changed) this.applyFilter();
  }

  applyFilter() {
    const d = this.d, q = d.filter.value.trim().toLowerCase();
    let shown = 0, total = 0;
    for (const tr of d.body.rows) {
      total += 1;
      const ok = (!q || tr.dataset.search.includes(q)) &&
        (!d.onlyKept.checked || tr.dataset.survives) &&
        (!d.onlyMut.checked || tr.dataset.mutated) &&
        (d.showTraining.checked || !tr.dataset.training || q.includes("training"));
      tr.style.display = ok ? "" : "none";
      shown += ok ? 1 : 0;
    }
    d.count.textContent = shown === total ? `${total} attributes` : `${shown} of ${total} attributes`;
    d.empty.style.display = shown ? "none" : "";
    d.empty.textContent = total ? "No attribute matches the filters." : "This module has no attributes.";
  }

  syncChecks() {
    const pres = this.preserved(), locked = this.lockedNames();
    for (const box of this.el.querySelectorAll("input[data-name]")) {
      box.checked = locked.has(box.dataset.name) || pres.has(box.dataset.name);
    }
  }

  setBusy() {
    this.showBusy();  // boxes are not disabled one by one (hundreds of style changes): see keepBox
    if (!this.model.get("busy")) this.syncChecks();
  }

  setSelected() {
    const sel = this.model.get("selected"), wrap = this.d.wrap;
    for (const tr of this.d.body.rows) {
      const on = tr.dataset.path === sel;
      tr.classList.toggle("fv-at-sel", on);
      if (on && tr.style.display !== "none") {  // scroll the table only, not the page
        const top = tr.offsetTop - this.d.head.offsetHeight, bottom = tr.offsetTop + tr.offsetHeight;
        if (top < wrap.scrollTop) wrap.scrollTop = top;
        else if (bottom > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = bottom - wrap.clientHeight;
      }
    }
  }

  listen() {
    const m = this.model, d = this.d;
    d.filter.addEventListener("input", () => this.applyFilter());
    for (const box of [d.onlyKept, d.onlyMut, d.showTraining]) box.addEventListener("change", () => this.applyFilter());
    const handlers = {
      rows: () => this.updateRows(),
      row_patch: () => this.updateRows(),
      methods: () => this.buildMethods(),
      fate_colors: () => this.buildRows(),
      preserved: () => { this.pending = null; this.showBusy(); this.syncChecks(); },
      busy: () => this.setBusy(),
      selected: () => this.setSelected(),
      height: () => { d.wrap.style.maxHeight = m.get("height"); },
      revision: () => { this.el.dataset.fvShown = String(m.get("revision")); },
    };
    for (const [name, fn] of Object.entries(handlers)) m.on(`change:${name}`, fn);
    for (const name of ["height", "methods", "rows", "busy", "revision"]) handlers[name]();
    return () => {
      clearTimeout(this.timer);
      this.flush();
      for (const [name, fn] of Object.entries(handlers)) m.off(`change:${name}`, fn);
    };
  }
}

function renderTable({ model, el }) {
  return new AttributeTable(model, el).listen();
}

function render(ctx) {
  return ctx.model.get("_fv_kind") === "table" ? renderTable(ctx) : renderGraph(ctx);
}

export default { render };
