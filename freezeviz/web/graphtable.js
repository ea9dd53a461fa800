// freezeviz inspector front end, the attribute table: rows with "preserve" boxes, filters and
// fate chips. The widget's module is graph.js, this file, graphstages.js, then graphview.js
// (which declares h() and the module's render, and picks this view for `_fv_kind` "table").

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
class AttributeTable {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.d = tableDom(el);
    this.pending = null;  // a preserved set clicked while a freeze ran, sent when it ends
  }

  preserved() { return new Set(this.pending || this.model.get("preserved") || []); }

  lockedNames() {
    return new Set((this.model.get("methods") || []).filter((m) => m.locked).map((m) => m.name));
  }

  toggle(name, on) {
    const list = (this.pending || this.model.get("preserved") || []).filter((n) => n !== name);
    if (on) list.push(name);
    this.pending = list;
    // a click is sent at once; clicks made while a freeze runs gather into one set, sent
    // when it ends (see setBusy)
    if (this.model.get("busy")) this.showBusy();
    else this.flush();
  }

  flush() {
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
    const off = this.model.get("keep_off") || "";  // a freezer without preserved_attrs
    box.disabled = disabled || Boolean(off);
    if (off) box.title = off;
    box.addEventListener("change", () => this.toggle(name, box.checked));
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
      lab.title = this.model.get("keep_off") || (m.locked ? "forward is always kept" :
        (m.kept ? "kept on the frozen module" : "not kept: freezing drops methods it is not asked to preserve"));
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
    if (!box.title) box.title = `preserve self.${r.path}`;
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
    this.showBusy();
    if (this.model.get("busy")) return;
    if (this.pending !== null) this.flush();  // what was clicked while it froze
    else this.syncChecks();
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
      keep_off: () => { this.el.classList.toggle("fv-at-nokeep", Boolean(m.get("keep_off"))); this.buildMethods(); this.buildRows(); },
      // Python's own change drops clicks not sent yet, unless they wait for a freeze to end
      preserved: () => { if (!m.get("busy")) this.pending = null; this.showBusy(); this.syncChecks(); },
      busy: () => this.setBusy(),
      selected: () => this.setSelected(),
      height: () => { d.wrap.style.maxHeight = m.get("height"); },
      revision: () => { this.el.dataset.fvShown = String(m.get("revision")); },
    };
    for (const [name, fn] of Object.entries(handlers)) m.on(`change:${name}`, fn);
    for (const name of ["height", "keep_off", "busy", "revision"]) handlers[name]();
    return () => {
      this.flush();
      for (const [name, fn] of Object.entries(handlers)) m.off(`change:${name}`, fn);
    };
  }
}

function renderTable({ model, el }) {
  return new AttributeTable(model, el).listen();
}
