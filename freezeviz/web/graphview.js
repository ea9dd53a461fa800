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
    stage: h("div", "fv-gv-stage"), crumbs: h("nav", "fv-crumbs") };
  d.crumbs.hidden = true;
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
  const hint = h("div", "fv-gv-hint", "wheel: zoom · drag: pan · click: details · ⊕ / ⊖: open / close a module · hover: find in other pane");
  // the breadcrumbs float over the drawing: opening a module must not move the pane
  d.crumbs.addEventListener("pointerdown", (e) => e.stopPropagation());
  d.vp.append(d.stage, d.crumbs, busy, hint);
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
    this.svgQueued = false;
    this.chrome = null;  // the drawing area's offset before this update changed the message
    this.expansion = new FVGraph.Expansion();  // what is open: the same set in both panes
    this.pz = new FVGraph.PanZoom(this.d.vp, this.d.stage, {
      enabled: () => !el.classList.contains("fv-gv-isbusy"),
      onClick: (g) => this.click(g),
      onExpand: (req) => this.expand(req),
    });
  }

  // A ⊕ / ⊖ clicked: open the module with its parents (closing everything below it) or close
  // it. The anchor (linked to the other pane) says which box the new drawings keep in place.
  expand(req) {
    this.expansion.apply(req);
    this.model.set("anchor", req.path);
    this.save("expanded", this.expansion.list());
    this.showCrumbs();
  }

  // A breadcrumb: close every module below `top`; the first of them stays where it was.
  upTo(top) {
    const trail = this.expansion.trail();
    this.model.set("anchor", trail[trail.indexOf(top) + 1] || "");
    this.expansion.upTo(top);
    this.save("expanded", this.expansion.list());
    this.showCrumbs();
  }

  // `expanded` set elsewhere (the other pane, or Python): take it, and a trail that fits it.
  syncExpanded() {
    const list = this.model.get("expanded") || [], e = this.expansion;
    if (list.join("\n") !== e.list().join("\n")) {
      e.paths = list.slice();
      const anchor = this.model.get("anchor") || "";
      const modules = list.filter((p) => p.indexOf("if:") !== 0);
      const depth = (p) => p.split(".").length;
      if (modules.includes(anchor)) e.last = anchor;
      else if (!list.includes(e.last)) e.last = modules.reduce((a, p) => (depth(p) > depth(a) ? p : a), "");
    }
    this.showCrumbs();
  }

  showCrumbs() {
    FVGraph.crumbs(this.d.crumbs, this.expansion, (top) => this.upTo(top));
  }

  // svg and node_map come as separate changes of one update: draw once both are in.
  scheduleSvg() {
    if (this.svgQueued) return;
    this.svgQueued = true;
    queueMicrotask(() => { this.svgQueued = false; this.setSvg(); });
  }

  setMap() {
    if (this.svgQueued) return;
    const svg = this.d.stage.querySelector("svg"), map = this.model.get("node_map") || {};
    this.pz.map = map;
    if (svg) FVGraph.markExpanders(svg, map);
    this.applyQuery(false);
  }

  save(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }

  setSvg() {
    const map = this.model.get("node_map") || {}, anchor = this.model.get("anchor") || "";
    if (anchor && this.pz.w) {  // answers a ⊕ / ⊖: same scale, that box's control kept in place
      const holder = h("div");
      holder.innerHTML = this.model.get("svg") || "";
      this.pz.swap(holder.querySelector("svg"), map, anchor);
      // a new message line above moved the drawing area: keep the control still on the page
      const dy = this.chrome === null ? 0 : this.chrome - this.chromeHeight();
      if (dy) { this.pz.y += dy; this.pz.apply(); }
      this.needsFit = false;
      this.chrome = null;
      return this.decorate();
    }
    const { w: oldW, h: oldH } = this.pz;
    this.d.stage.innerHTML = this.model.get("svg") || "";
    const { w, h: hgt } = this.pz.show(this.d.stage.querySelector("svg"), map);
    // the same picture redrawn (e.g. other colours after a re-freeze): keep the user's view
    const same = this.pz.touched && w && Math.abs(w - oldW) <= 0.02 * oldW && Math.abs(hgt - oldH) <= 0.02 * oldH;
    if (!same) this.needsFit = !this.pz.fit("auto");
    this.chrome = null;
    this.decorate();
  }

  // How far below the pane's top the drawing area starts (the toolbar, the message line).
  chromeHeight() {
    return this.d.vp.getBoundingClientRect().top - this.el.getBoundingClientRect().top;
  }

  decorate() {
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
      svg: () => this.scheduleSvg(),
      node_map: () => this.setMap(),
      expanded: () => this.syncExpanded(),
      label: () => { d.label.textContent = m.get("label"); },
      message: () => {
        if (this.chrome === null) {  // kept for a drawing of the same update only
          this.chrome = this.chromeHeight();
          setTimeout(() => { this.chrome = null; }, 0);
        }
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
    for (const name of ["label", "message", "busy", "height", "expanded", "revision"]) handlers[name]();
    this.setSvg();
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

function render(ctx) {
  const kind = ctx.model.get("_fv_kind");
  return kind === "table" ? renderTable(ctx) : kind === "stages" ? renderStages(ctx) : renderGraph(ctx);
}

export default { render };
