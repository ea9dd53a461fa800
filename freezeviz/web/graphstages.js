// freezeviz inspector front end, the stages tab: one row per stage with "compare" (that stage
// against the one before it in the panes) and "diff" (its text diff opened below the row; for
// a method's first stage, "graph": torch's printout). One widget for the whole list: a new
// report sends a few rows of data, not a dozen widgets. The module is graph.js, graphtable.js,
// this file, then graphview.js (which declares h(), button() and the module's render).

class StageList {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    el.classList.add("fv-stages", "fv-tab");
    this.list = h("div", "fv-stage-list");
    this.note = h("div", "fv-stage-note");
    el.append(this.list, this.note);
  }

  opened() { return new Set(this.model.get("opened") || []); }

  // Open or close the text below a row; Python answers with the text (trait `texts`).
  toggle(stage) {
    const opened = this.opened();
    if (opened.has(stage)) opened.delete(stage);
    else opened.add(stage);
    this.model.set("opened", [...opened]);
    this.model.save_changes();
    this.showTexts();
  }

  compare(r) {
    this.model.set("compare", [r.prev || "", r.stage]);
    this.model.save_changes();
  }

  buildRow(r) {
    const row = h("div", "fv-stage-row");
    row.dataset.stage = r.stage;
    const line = h("div", "fv-stage-line");
    const compare = button("compare", r.compare_tip, "fv-stage-compare");
    compare.addEventListener("click", () => this.compare(r));
    const toggle = button(r.toggle, r.toggle_tip, "fv-stage-toggle");
    toggle.disabled = Boolean(r.disabled);
    toggle.addEventListener("click", () => this.toggle(r.stage));
    const text = h("div", "fv-stage-text");
    text.innerHTML = r.summary;  // built by Python from the report, every name escaped
    line.append(compare, toggle, text);
    const body = h("div", "fv-stage-body");
    row.append(line, body);
    return row;
  }

  build() {
    const frag = document.createDocumentFragment();
    this.rows = new Map();
    for (const r of this.model.get("rows") || []) {
      const row = this.buildRow(r);
      this.rows.set(r.stage, row);
      frag.append(row);
    }
    this.list.textContent = "";
    this.list.append(frag);
    this.note.innerHTML = this.model.get("note") || "";
    this.showTexts();
  }

  // Each opened row shows its text once Python has sent it; closed rows show nothing.
  showTexts() {
    const opened = this.opened(), texts = this.model.get("texts") || {};
    for (const [stage, row] of this.rows || []) {
      const on = opened.has(stage), body = row.lastChild, text = on ? texts[stage] : undefined;
      row.classList.toggle("fv-stage-open", on);
      row.querySelector(".fv-stage-toggle").setAttribute("aria-pressed", String(on));
      if (body.dataset.shown !== (text === undefined ? "" : stage)) {
        body.innerHTML = text === undefined ? "" : text;
        body.dataset.shown = text === undefined ? "" : stage;
      }
    }
  }

  listen() {
    const m = this.model;
    const handlers = { rows: () => this.build(), note: () => this.build(),
      opened: () => this.showTexts(), texts: () => this.showTexts() };
    for (const [name, fn] of Object.entries(handlers)) m.on(`change:${name}`, fn);
    this.build();
    return () => { for (const [name, fn] of Object.entries(handlers)) m.off(`change:${name}`, fn); };
  }
}

function renderStages({ model, el }) {
  return new StageList(model, el).listen();
}
