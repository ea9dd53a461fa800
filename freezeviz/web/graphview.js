// freezeviz inspector front end: an anywidget ES module, loaded as is (no build step).
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

function cssId(id) {
  return window.CSS && CSS.escape ? CSS.escape(id) : id.replace(/[^A-Za-z0-9_-]/g, "\\$&");
}

// --- graph pane ------------------------------------------------------------------------------

function renderGraph({ model, el }) {
  el.classList.add("fv-gv");
  const bar = h("div", "fv-gv-bar");
  const label = h("span", "fv-gv-label");
  const search = h("input", "fv-gv-search");
  search.type = "search";
  search.placeholder = "search: op, self.attr";
  search.title = "Highlight nodes whose label or tooltip contains this text; Enter jumps to the next";
  const count = h("span", "fv-gv-count");
  const spacer = h("span", "fv-gv-spacer");
  const zoomOut = button("−", "Zoom out");
  const zoomIn = button("+", "Zoom in");
  const fit = button("fit", "Fit the whole drawing in the pane");
  const actual = button("1:1", "Natural size");
  bar.append(label, search, count, spacer, zoomOut, zoomIn, actual, fit);
  const msg = h("div", "fv-gv-msg");
  const vp = h("div", "fv-gv-viewport");
  const stage = h("div", "fv-gv-stage");
  const busy = h("div", "fv-gv-busy");
  busy.append(h("span", "fv-spin"), h("span", "", " freezing…"));
  const hint = h("div", "fv-gv-hint", "wheel: zoom · drag: pan · click: details · hover: find in other pane");
  vp.append(stage, busy, hint);
  el.append(bar, msg, vp);

  let k = 1, tx = 0, ty = 0, w = 0, hgt = 0;
  let needsFit = true, hits = [], hitIndex = -1, drag = null, moved = false;

  const apply = () => {
    stage.style.transform = `translate(${tx}px, ${ty}px) scale(${k})`;
  };
  const svgEl = () => stage.querySelector("svg");

  // Fit the whole drawing; on first show, a drawing that would be too small to read is
  // fitted to the pane's width instead and shown from the top (where the inputs are).
  function fitView(initial) {
    const vw = vp.clientWidth, vh = vp.clientHeight;
    if (!vw || !vh || !w || !hgt) return false;
    const pad = 16;
    const whole = Math.min((vw - pad) / w, (vh - pad) / hgt, 1.25);
    const width = Math.min((vw - pad) / w, 1.25);
    if (!initial || whole >= 0.5 || width <= whole * 1.5) {
      k = whole;
      tx = (vw - w * k) / 2;
      ty = (vh - hgt * k) / 2;
    } else {
      k = width;
      tx = (vw - w * k) / 2;
      ty = pad / 2;
    }
    apply();
    return true;
  }

  function zoomAt(x, y, factor) {
    moved = true;
    const nk = Math.min(Math.max(k * factor, 0.02), 8);
    tx = x - ((x - tx) * nk) / k;
    ty = y - ((y - ty) * nk) / k;
    k = nk;
    apply();
  }

  function setSvg() {
    stage.innerHTML = model.get("svg") || "";
    const svg = svgEl();
    const [oldW, oldH] = [w, hgt];
    w = hgt = 0;
    if (svg) {
      const vb = svg.viewBox && svg.viewBox.baseVal;
      if (vb && vb.width) {
        w = vb.width * 4 / 3;  // graphviz sizes are points
        hgt = vb.height * 4 / 3;
      } else {
        w = parseFloat(svg.getAttribute("width")) || 400;
        hgt = parseFloat(svg.getAttribute("height")) || 300;
      }
      svg.setAttribute("width", String(w));
      svg.setAttribute("height", String(hgt));
    }
    // the same picture redrawn (e.g. other colours after a re-freeze): keep the user's view
    const same = moved && w && Math.abs(w - oldW) <= 0.02 * oldW && Math.abs(hgt - oldH) <= 0.02 * oldH;
    if (!same) {
      moved = false;
      needsFit = !fitView(true);
    }
    showSelected();
    showHover();
    applyQuery(false);
  }

  function showHover() {
    for (const n of stage.querySelectorAll(".fv-hover")) n.classList.remove("fv-hover");
    const id = model.get("hovered");
    let found = false;
    if (id) {
      const g = stage.querySelector("#" + cssId(id));
      if (g) {
        g.classList.add("fv-hover");
        found = true;
      }
    }
    el.classList.toggle("fv-gv-missing", Boolean(id) && !found);
  }

  function showSelected() {
    for (const n of stage.querySelectorAll(".fv-selected")) n.classList.remove("fv-selected");
    for (const id of model.get("selected") || []) {
      const g = stage.querySelector("#" + cssId(id));
      if (g) g.classList.add("fv-selected");
    }
  }

  function nodeText(g) {
    const parts = Array.from(g.querySelectorAll("text"), (t) => t.textContent);
    const a = g.querySelector("a");
    if (a) {
      parts.push(a.getAttribute("xlink:title") ||
        a.getAttributeNS("http://www.w3.org/1999/xlink", "title") || a.getAttribute("title") || "");
    }
    return parts.join("\n").toLowerCase();
  }

  function applyQuery(sync) {
    const q = (model.get("query") || "").trim().toLowerCase();
    if (search.value.trim().toLowerCase() !== q && document.activeElement !== search) {
      search.value = model.get("query") || "";
    }
    for (const n of stage.querySelectorAll(".fv-match")) n.classList.remove("fv-match");
    hits = [];
    hitIndex = -1;
    const svg = svgEl();
    if (svg) svg.classList.toggle("fv-searching", Boolean(q));
    if (q) {
      for (const g of stage.querySelectorAll("g.node")) {
        if (nodeText(g).includes(q)) {
          g.classList.add("fv-match");
          hits.push(g);
        }
      }
    }
    count.textContent = q ? `${hits.length} match${hits.length === 1 ? "" : "es"}` : "";
    if (sync && model.get("matches") !== hits.length) {
      model.set("matches", hits.length);
      model.save_changes();
    }
  }

  function centerOn(g) {
    const r = g.getBoundingClientRect(), v = vp.getBoundingClientRect();
    if (k < 0.6) {
      zoomAt(r.left + r.width / 2 - v.left, r.top + r.height / 2 - v.top, 0.9 / k);
      return centerOn(g);
    }
    moved = true;
    tx += v.left + v.width / 2 - (r.left + r.width / 2);
    ty += v.top + v.height / 2 - (r.top + r.height / 2);
    apply();
    g.classList.remove("fv-pulse");
    void g.getBoundingClientRect();
    g.classList.add("fv-pulse");
  }

  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      model.set("query", search.value);
      model.save_changes();
    }, 200);
  });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    clearTimeout(searchTimer);
    if ((model.get("query") || "") !== search.value) {
      model.set("query", search.value);
      model.save_changes();
    }
    if (hits.length) {
      hitIndex = (hitIndex + 1) % hits.length;
      centerOn(hits[hitIndex]);
      count.textContent = `${hitIndex + 1} / ${hits.length}`;
    }
  });

  vp.addEventListener("wheel", (e) => {
    if (!w) return;
    e.preventDefault();
    const r = vp.getBoundingClientRect();
    const step = e.deltaMode === 1 ? 0.05 : e.deltaMode === 2 ? 1 : 0.0015;
    zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * step));
  }, { passive: false });

  vp.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || el.classList.contains("fv-gv-isbusy")) return;
    drag = { x: e.clientX, y: e.clientY, tx, ty, moved: false, target: e.target, id: e.pointerId };
  });
  vp.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) > 4) {
      drag.moved = true;
      vp.classList.add("fv-dragging");
      try { vp.setPointerCapture(drag.id); } catch (err) { /* pointer already gone */ }
    }
    if (drag.moved) {
      moved = true;
      tx = drag.tx + dx;
      ty = drag.ty + dy;
      apply();
    }
  });
  const endDrag = (e, click) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    vp.classList.remove("fv-dragging");
    if (!d.moved && click) {
      const g = d.target && d.target.closest ? d.target.closest("g.node") : null;
      if (g && stage.contains(g) && g.id) {
        if (model.get("clicked") === g.id) model.set("clicked", "");
        model.set("clicked", g.id);
        model.save_changes();
      }
    }
  };
  vp.addEventListener("pointerup", (e) => endDrag(e, true));
  vp.addEventListener("pointercancel", (e) => endDrag(e, false));
  vp.addEventListener("pointerleave", (e) => { if (drag && !drag.moved) drag = null; });

  let lastHover = "";
  const setHover = (id) => {
    if (id === lastHover) return;
    lastHover = id;
    model.set("hovered", id);
    model.save_changes();
  };
  stage.addEventListener("pointerover", (e) => {
    if (drag && drag.moved) return;
    const g = e.target.closest ? e.target.closest("g.node") : null;
    setHover(g && g.id ? g.id : "");
  });
  vp.addEventListener("pointerleave", () => setHover(""));

  const center = () => ({ x: vp.clientWidth / 2, y: vp.clientHeight / 2 });
  zoomIn.addEventListener("click", () => { const c = center(); zoomAt(c.x, c.y, 1.25); });
  zoomOut.addEventListener("click", () => { const c = center(); zoomAt(c.x, c.y, 0.8); });
  actual.addEventListener("click", () => { const c = center(); zoomAt(c.x, c.y, 1 / k); });
  fit.addEventListener("click", () => { moved = false; fitView(false); });

  const ro = new ResizeObserver(() => {
    if (needsFit) needsFit = !fitView(true);
  });
  ro.observe(vp);

  const setLabel = () => { label.textContent = model.get("label"); };
  const setMsg = () => {
    msg.textContent = model.get("message");
    msg.title = model.get("message");
    msg.style.display = model.get("message") ? "" : "none";
  };
  const setBusy = () => el.classList.toggle("fv-gv-isbusy", model.get("busy"));
  const setHeight = () => { vp.style.height = model.get("height"); };
  const onHover = () => { lastHover = model.get("hovered"); showHover(); };

  model.on("change:svg", setSvg);
  model.on("change:label", setLabel);
  model.on("change:message", setMsg);
  model.on("change:busy", setBusy);
  model.on("change:height", setHeight);
  model.on("change:hovered", onHover);
  model.on("change:selected", showSelected);
  const onQuery = () => applyQuery(true);
  model.on("change:query", onQuery);
  setLabel();
  setMsg();
  setBusy();
  setHeight();
  setSvg();
  return () => {
    ro.disconnect();
    clearTimeout(searchTimer);
    model.off("change:svg", setSvg);
    model.off("change:label", setLabel);
    model.off("change:message", setMsg);
    model.off("change:busy", setBusy);
    model.off("change:height", setHeight);
    model.off("change:hovered", onHover);
    model.off("change:selected", showSelected);
    model.off("change:query", onQuery);
  };
}

// --- attribute table -------------------------------------------------------------------------

function renderTable({ model, el }) {
  el.classList.add("fv-at");
  const bar = h("div", "fv-at-bar");
  const filter = h("input", "fv-at-filter");
  filter.type = "search";
  filter.placeholder = "filter attributes";
  const check = (text, title, on) => {
    const lab = h("label", "fv-at-opt");
    const box = h("input");
    box.type = "checkbox";
    box.checked = on;
    lab.title = title;
    lab.append(box, document.createTextNode(" " + text));
    return [lab, box];
  };
  const [keptLab, onlyKept] = check("only kept", "Show only attributes the frozen module still holds", false);
  const [mutLab, onlyMut] = check("only mutated", "Show only attributes a method writes", false);
  const [trainLab, showTraining] = check("training flags", "Show the `training` flag of every module", false);
  const count = h("span", "fv-at-count");
  const busy = h("span", "fv-at-busy");
  busy.append(h("span", "fv-spin"), h("span", "", " freezing…"));
  bar.append(filter, keptLab, mutLab, trainLab, count, busy);
  const methodsRow = h("div", "fv-at-methods");
  const wrap = h("div", "fv-at-wrap");
  const table = h("table", "fv-at-table");
  const head = h("thead");
  const hr = h("tr");
  for (const [text, title, cls] of [["keep", "preserve: pass this name in preserved_attrs", "fv-at-keep"],
    ["attribute", "path from the module root; kind and type below", "fv-at-attr"],
    ["fate", "what freezing did to it", "fv-at-fate"], ["why", "", "fv-at-why"]]) {
    const th = h("th", cls, text);
    if (title) th.title = title;
    hr.append(th);
  }
  head.append(hr);
  const body = h("tbody");
  table.append(head, body);
  const empty = h("div", "fv-at-empty", "No attribute matches the filters.");
  wrap.append(table, empty);
  el.append(bar, methodsRow, wrap);

  let pending = null, timer = null;
  const preserved = () => new Set(pending || model.get("preserved") || []);

  function toggle(name, on) {
    const list = (pending || model.get("preserved") || []).filter((n) => n !== name);
    if (on) list.push(name);
    pending = list;
    el.classList.add("fv-at-pending");
    clearTimeout(timer);
    timer = setTimeout(flush, model.get("debounce_ms"));
  }
  function flush() {
    if (pending === null) return;
    model.set("preserved", pending);
    pending = null;
    el.classList.remove("fv-at-pending");
    model.save_changes();
  }

  function chip(fate, colors) {
    const c = colors[fate] || ["#eee", "#999", fate];
    const s = h("span", "fv-chip", c[2] || fate);
    s.dataset.fate = fate;
    s.title = fate;
    s.style.background = c[0];
    s.style.borderColor = c[1];
    return s;
  }

  function buildMethods() {
    methodsRow.textContent = "";
    const methods = model.get("methods") || [];
    if (!methods.length) return;
    methodsRow.append(h("span", "fv-at-mlabel", "methods:"));
    const pres = preserved();
    for (const m of methods) {
      const lab = h("label", "fv-at-method" + (m.kept ? "" : " fv-at-gone"));
      const box = h("input");
      box.type = "checkbox";
      box.dataset.name = m.name;
      box.checked = m.locked || pres.has(m.name);
      box.disabled = Boolean(m.locked) || model.get("busy");
      box.addEventListener("change", () => toggle(m.name, box.checked));
      lab.title = m.locked ? "forward is always kept" :
        (m.kept ? "kept on the frozen module" : "not kept: freezing drops methods it is not asked to preserve");
      lab.append(box, document.createTextNode(" " + m.name + "()"));
      methodsRow.append(lab);
    }
  }

  function buildRows() {
    body.textContent = "";
    const colors = model.get("fate_colors") || {};
    const pres = preserved();
    const sel = model.get("selected");
    const frag = document.createDocumentFragment();
    for (const r of model.get("rows") || []) {
      const tr = h("tr");
      tr.dataset.path = r.path;
      tr.dataset.survives = r.survives ? "1" : "";
      tr.dataset.mutated = r.mutated ? "1" : "";
      tr.dataset.training = r.path === "training" || r.path.endsWith(".training") ? "1" : "";
      tr.dataset.search = (r.path + " " + r.kind + " " + r.type + " " + r.fate + " " + r.fate_label).toLowerCase();
      if (r.path === sel) tr.classList.add("fv-at-sel");
      const td0 = h("td", "fv-at-keep");
      const box = h("input");
      box.type = "checkbox";
      box.dataset.name = r.path;
      box.checked = pres.has(r.path);
      box.disabled = model.get("busy");
      box.title = `preserve self.${r.path}`;
      box.addEventListener("click", (e) => e.stopPropagation());
      box.addEventListener("change", () => toggle(r.path, box.checked));
      td0.append(box);
      const td1 = h("td", "fv-at-attr");
      const path = h("div", "fv-at-path");
      r.path.split(".").forEach((part, i) => {  // allow line breaks after the dots
        if (i) path.append(".", document.createElement("wbr"));
        path.append(part);
      });
      path.title = "self." + r.path;
      const sub = h("div", "fv-at-sub", r.kind + " · " + r.type);
      sub.title = r.type;
      td1.append(path, sub);
      const td4 = h("td", "fv-at-fate");
      td4.append(chip(r.fate, colors));
      const td5 = h("td", "fv-at-why");
      const why = h("div", "fv-at-whytext", r.why);
      why.title = r.why;
      td5.append(why);
      if (r.warning) {
        const warn = h("div", "fv-at-warn", "⚠ " + r.warning);
        td5.append(warn);
      }
      tr.append(td0, td1, td4, td5);
      tr.addEventListener("click", () => {
        if (model.get("clicked") === r.path) model.set("clicked", "");
        model.set("clicked", r.path);
        model.save_changes();
      });
      frag.append(tr);
    }
    body.append(frag);
    applyFilter();
  }

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0, total = 0;
    for (const tr of body.rows) {
      total += 1;
      const ok = (!q || tr.dataset.search.includes(q)) &&
        (!onlyKept.checked || tr.dataset.survives) &&
        (!onlyMut.checked || tr.dataset.mutated) &&
        (showTraining.checked || !tr.dataset.training || q.includes("training"));
      tr.style.display = ok ? "" : "none";
      shown += ok ? 1 : 0;
    }
    count.textContent = shown === total ? `${total} attributes` : `${shown} of ${total} attributes`;
    empty.style.display = shown ? "none" : "";
    empty.textContent = total ? "No attribute matches the filters." : "This module has no attributes.";
  }

  const lockedNames = () => new Set((model.get("methods") || []).filter((m) => m.locked).map((m) => m.name));
  function syncChecks() {
    const pres = preserved(), locked = lockedNames();
    for (const box of el.querySelectorAll("input[data-name]")) {
      box.checked = locked.has(box.dataset.name) || pres.has(box.dataset.name);
    }
  }
  function setBusy() {
    const b = model.get("busy");
    el.classList.toggle("fv-at-isbusy", b);
    const locked = lockedNames();
    for (const box of el.querySelectorAll("input[data-name]")) {
      box.disabled = b || locked.has(box.dataset.name);
    }
  }
  function setSelected() {
    const sel = model.get("selected");
    for (const tr of body.rows) {
      const on = tr.dataset.path === sel;
      tr.classList.toggle("fv-at-sel", on);
      if (on && tr.style.display !== "none") {  // scroll the table only, not the page
        const top = tr.offsetTop - head.offsetHeight, bottom = tr.offsetTop + tr.offsetHeight;
        if (top < wrap.scrollTop) wrap.scrollTop = top;
        else if (bottom > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = bottom - wrap.clientHeight;
      }
    }
  }
  const setHeight = () => { wrap.style.maxHeight = model.get("height"); };
  const onPreserved = () => { pending = null; el.classList.remove("fv-at-pending"); syncChecks(); };

  filter.addEventListener("input", applyFilter);
  for (const box of [onlyKept, onlyMut, showTraining]) box.addEventListener("change", applyFilter);
  model.on("change:rows", buildRows);
  model.on("change:methods", buildMethods);
  model.on("change:fate_colors", buildRows);
  model.on("change:preserved", onPreserved);
  model.on("change:busy", setBusy);
  model.on("change:selected", setSelected);
  model.on("change:height", setHeight);
  setHeight();
  buildMethods();
  buildRows();
  setBusy();
  return () => {
    clearTimeout(timer);
    flush();
    model.off("change:rows", buildRows);
    model.off("change:methods", buildMethods);
    model.off("change:fate_colors", buildRows);
    model.off("change:preserved", onPreserved);
    model.off("change:busy", setBusy);
    model.off("change:selected", setSelected);
    model.off("change:height", setHeight);
  };
}

function render(ctx) {
  return ctx.model.get("_fv_kind") === "table" ? renderTable(ctx) : renderGraph(ctx);
}

export default { render };
