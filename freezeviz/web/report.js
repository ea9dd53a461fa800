/* freezeviz HTML report: stage pickers, diff colours, cross-highlighting; drawing, pan/zoom
 * and the node map come from graph.js (FVGraph), inlined in front of this file.
 * Reads only the JSON block #fv-data (stages, graphs, node maps) and the <template> drawings;
 * every string from the model is set with textContent or compared, never parsed as HTML. */
var data = null, masters = {}, panes = {}, highlightPath = null, fateOff = {};
var colourFate = null, graphsEl = null, diffCount = null, graphMsg = null, filterBox = null;
var expansion = new FVGraph.Expansion(), opened = {}, crumbsEl = null;

function $(sel, root) { return (root || document).querySelector(sel); }
function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

// --- drawings ---------------------------------------------------------------------------
function drawing(tplId) {
  if (!masters[tplId]) {
    var tpl = document.getElementById(tplId);
    var svg = tpl && tpl.content.querySelector("svg");
    if (!svg) return null;
    masters[tplId] = document.importNode(svg, true);  // PanZoom.show prepares each copy
  }
  return masters[tplId].cloneNode(true);
}

function mapOf(p) { return p.map || (p.tpl && data.maps[p.tpl]) || {}; }

// --- panes ------------------------------------------------------------------------------
function Pane(el) {
  var self = this;
  this.el = el;
  this.side = el.getAttribute("data-side");
  this.view = $(".fv-view", el);
  this.select = $("select", el);
  var label = $(".fv-zoomlabel", el);
  this.pz = new FVGraph.PanZoom(this.view, $(".fv-canvas", el), {
    onChange: function (pz) { label.textContent = Math.round(pz.k * 100) + "%"; },
    onClick: function (g) { selectNode(self, g); },
    onExpand: function (req) { expand(req); }
  });
  this.svg = null; this.tpl = null; this.stage = null;
  this.select.addEventListener("change", function () {
    self.stage = +self.select.value; refresh();
  });
  $(".fv-prev", el).addEventListener("click", function () { self.step(-1); });
  $(".fv-next", el).addEventListener("click", function () { self.step(1); });
  $(".fv-zin", el).addEventListener("click", function () { self.pz.zoomCenter(1.25); });
  $(".fv-zout", el).addEventListener("click", function () { self.pz.zoomCenter(0.8); });
  $(".fv-fit", el).addEventListener("click", function () { self.pz.fit("all"); });
  $(".fv-one", el).addEventListener("click", function () { self.pz.fit("one"); });
  this.bindSearch();
  this.bindHover();
}

// Hovering a node marks the same node in the other pane, or (when freezing turned it into
// something else) the GetAttrs and constants it is linked to, and says so under that pane.
Pane.prototype.bindHover = function () {
  var self = this;
  this.status = document.createElement("div");
  this.status.className = "fv-foot fv-linkmsg";
  this.status.hidden = true;
  this.el.insertBefore(this.status, $(".fv-foot", this.el));
  this.view.addEventListener("pointerover", function (e) {
    if (self.pz.dragging()) return;
    var g = e.target.closest ? e.target.closest("g.node") : null;
    hoverNode(self, g && self.svg && self.svg.contains(g) ? g : null);
  });
  this.view.addEventListener("pointerleave", function () { hoverNode(self, null); });
};

Pane.prototype.bindSearch = function () {
  var self = this;
  this.search = $(".fv-search", this.el);
  this.searchCount = $(".fv-searchcount", this.el);
  this.hits = []; this.hitIndex = -1;
  this.search.addEventListener("input", function () { self.runSearch(); });
  this.search.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || !self.hits.length) return;
    e.preventDefault();
    self.hitIndex = (self.hitIndex + 1) % self.hits.length;
    var g = self.hits[self.hitIndex];
    self.pz.center(g, { readable: true });
    FVGraph.pulse(g);
    self.searchCount.textContent = (self.hitIndex + 1) + " / " + self.hits.length;
  });
};

Pane.prototype.runSearch = function () {
  var q = this.search.value.trim();
  this.hits = FVGraph.showSearch(this.svg, mapOf(this), q);
  this.hitIndex = -1;
  var n = this.hits.length;
  this.searchCount.textContent = q ? n + " match" + (n === 1 ? "" : "es") : "";
};

Pane.prototype.step = function (dir) {
  // the next (or previous) stage of the same method whose graph differs from this one
  var s = data.stages[this.stage], i = this.stage;
  while (true) {
    i += dir;
    if (i < 0 || i >= data.stages.length) return;
    var t = data.stages[i];
    if (t.method !== s.method) continue;
    if (t.graph !== s.graph) break;
  }
  this.stage = i; refresh();
};

Pane.prototype.load = function (tplId) {
  if (this.tpl === tplId && this.svg) {
    FVGraph.clear(this.svg, "fvx-added");
    FVGraph.clear(this.svg, "fvx-removed");
    return;
  }
  var svg = drawing(tplId);
  this.pz.canvas.textContent = "";
  this.tpl = tplId; this.svg = svg; this.map = null; this.opened = "";
  if (svg) this.pz.canvas.appendChild(svg);
  this.pz.show(svg, data.maps[tplId]);
  this.pz.fit("auto");
  this.runSearch();
};


// --- diff colours ----------------------------------------------------------------------
function markDiff(a, b) {
  // nodes of b missing from a are added; nodes of a missing from b are removed
  var marks = FVGraph.diffMarks(mapOf(a), mapOf(b));
  if (!marks) return null;
  return [FVGraph.mark(b.svg, marks.added, "fvx-added").length,
    FVGraph.mark(a.svg, marks.removed, "fvx-removed").length];
}

function countDrawn(a, b) {
  return [$$("g.node.fv-added", b).length, $$("g.node.fv-removed", a).length];
}

// --- refresh ---------------------------------------------------------------------------
function describe(p) {
  var s = data.stages[p.stage], g = data.graphs[s.graph];
  var foot = $(".fv-foot", p.el);
  foot.textContent = "";
  var d = document.createElement("span");
  d.textContent = s.description;
  var meta = document.createElement("span");
  meta.className = "fv-meta";
  meta.textContent = " \u00b7 " + s.nodes + " nodes \u00b7 " +
    (s.changed ? "changed the graph" : isFirst(p.stage) ? "the starting point" :
      "left the graph unchanged") +
    (s.ms !== null ? " \u00b7 " + s.ms + " ms" : "") + sharing(s, g);
  foot.appendChild(d); foot.appendChild(meta);
  if (g.message) {
    var m = document.createElement("span");
    m.className = "fv-msg";
    m.textContent = "Drawing: " + g.message.split("; pass ")[0] + ".";
    foot.appendChild(m);
  }
  p.select.value = String(p.stage);
  $(".fv-prev", p.el).disabled = !hasStep(p.stage, -1);
  $(".fv-next", p.el).disabled = !hasStep(p.stage, 1);
}

function sharing(s, g) {
  // stages that share a drawing are consecutive: say since when the graph stands still
  if (g.stages.length < 2) return "";
  var at = g.stages.indexOf(s.label);
  if (at > 0) return " \u00b7 same graph as after " + g.stages[0];
  var n = g.stages.length - 1;
  return " \u00b7 the next " + (n === 1 ? "stage leaves" : n + " stages leave") + " it unchanged";
}

function isFirst(i) {
  // each method's first stage (scripted) is where it starts: no change to speak of
  for (var j = 0; j < i; j++) if (data.stages[j].method === data.stages[i].method) return false;
  return true;
}

function hasStep(i, dir) {
  var s = data.stages[i];
  for (var j = i + dir; j >= 0 && j < data.stages.length; j += dir) {
    var t = data.stages[j];
    if (t.method === s.method && t.graph !== s.graph) return true;
  }
  return false;
}

function refresh() {
  var pa = panes.before, pb = panes.after;
  var sa = data.stages[pa.stage], sb = data.stages[pb.stage];
  // coloured by fate: the plain drawings (fates are drawn in them), no diff marks at all
  var byFate = !!(colourFate && colourFate.checked);
  if (graphsEl) graphsEl.classList.toggle("fv-by-fate", byFate);
  var want = !byFate && sa.method === sb.method && sa.graph !== sb.graph;
  var pair = want ? data.diffs[sa.graph + ":" + sb.graph] : null;
  pa.load(pair ? pair.before : data.graphs[sa.graph].tpl);
  pb.load(pair ? pair.after : data.graphs[sb.graph].tpl);
  var counts = null;
  if (pair && pa.svg && pb.svg) counts = countDrawn(pa.svg, pb.svg);
  else if (want && pa.svg && pb.svg) counts = markDiff(pa, pb);
  diffCount.textContent = "";
  if (counts) {
    var plus = document.createElement("span"), minus = document.createElement("span");
    plus.className = "fv-plus"; minus.className = "fv-minus";
    plus.textContent = "+" + counts[0] + " added";
    minus.textContent = "\u2212" + counts[1] + " removed";
    diffCount.appendChild(document.createTextNode(sa.label + " \u2192 " + sb.label + ": "));
    diffCount.appendChild(plus);
    diffCount.appendChild(document.createTextNode(", "));
    diffCount.appendChild(minus);
    diffCount.appendChild(document.createTextNode(" nodes" + (pair ? "" : " (matched by node id)")));
  } else if (byFate) {
    diffCount.textContent = "Coloured by attribute fate; no diff colours.";
  } else if (want) {
    diffCount.textContent = "No diff colours: one drawing is cut short (too many nodes).";
  } else if (sa.method !== sb.method) {
    diffCount.textContent = "The panes show different methods; no diff colours.";
  } else if (sa.graph === sb.graph) {
    diffCount.textContent = "Both panes show the same graph.";
  }
  describe(pa); describe(pb);
  reapplyHighlight();
}

// --- selection and highlighting -----------------------------------------------------------
function otherPane(pane) { return pane === panes.before ? panes.after : panes.before; }

// The nodes of the other pane that stand for g: its twin by key, else the GetAttrs and
// constants sharing an attribute path with it. {nodes, text, twin}; text only for links.
function counterpart(pane, g) {
  var other = otherPane(pane);
  var twin = FVGraph.byId(other.svg, g.id);
  if (twin) return { nodes: [twin], text: null, twin: true };
  var links = FVGraph.attributeLinks(mapOf(pane), g.id, mapOf(other), other.stage > pane.stage);
  if (!links) return { nodes: [], text: null, twin: false };
  var nodes = links.ids.map(function (id) { return FVGraph.byId(other.svg, id); });
  return { nodes: nodes.filter(Boolean), text: links.text, twin: false };
}

function hoverNode(pane, g) {
  var other = otherPane(pane);
  [pane, other].forEach(function (p) {
    FVGraph.clear(p.svg, "fvx-hover");
    p.status.hidden = true; p.status.textContent = "";
  });
  if (!g) return;
  var found = counterpart(pane, g);
  found.nodes.forEach(function (n) { n.classList.add("fvx-hover"); });
  if (found.text) { other.status.textContent = "Hovered: " + found.text; other.status.hidden = false; }
}

function selectNode(pane, g) {
  [panes.before, panes.after].forEach(function (p) { FVGraph.clear(p.svg, "fvx-sel"); });
  if (!g) { graphMsg.textContent = ""; return; }
  var other = otherPane(pane);
  g.classList.add("fvx-sel");
  var found = counterpart(pane, g);
  found.nodes.forEach(function (n) { n.classList.add("fvx-sel"); });
  if (found.nodes.length) other.pz.center(found.nodes[0]);
  if (found.twin) {
    graphMsg.textContent = "Selected node is also in the " + other.side + " pane (centred there).";
  } else {
    graphMsg.textContent = found.text ? "Selected: " + found.text + " (" + other.side + " pane)."
      : "Selected node is not in the " + other.side + " pane.";
  }
}

function reapplyHighlight() {
  var total = 0;
  [panes.before, panes.after].forEach(function (p) {
    if (!p.svg) return;
    FVGraph.clear(p.svg, "fvx-hl");
    if (highlightPath === null) return;
    var hits = FVGraph.mark(p.svg, FVGraph.attributeHits(mapOf(p), highlightPath), "fvx-hl");
    total += hits.length;
    if (hits.length) p.pz.center(hits[0]);
  });
  if (highlightPath !== null) {
    graphMsg.textContent = total ? "Highlighted " + total + " node(s) for self." + highlightPath + "."
      : "self." + highlightPath + " does not appear in either drawing (it may be removed).";
  }
}

function bindAttributeRows() {
  $$("tr.fv-attr-row").forEach(function (row) {
    if (row.fvBound) return;  // rows unpacked later are bound then
    row.fvBound = true;
    row.addEventListener("click", function (e) {
      if (e.target.closest("a, button, summary")) return;
      var path = row.getAttribute("data-path");
      var same = highlightPath === path;
      $$("tr.fv-attr-row.fv-selected").forEach(function (r) { r.classList.remove("fv-selected"); });
      highlightPath = same ? null : path;
      if (!same) row.classList.add("fv-selected");
      if (same) graphMsg.textContent = "";
      reapplyHighlight();
      if (!same) document.getElementById("graphs").scrollIntoView({ block: "start" });
    });
  });
}

// --- stage table: compare a stage with the one before it -----------------------------------
function previousDifferent(i) {
  var s = data.stages[i];
  for (var j = i - 1; j >= 0; j--) {
    var t = data.stages[j];
    if (t.method === s.method && t.graph !== s.graph) return j;
  }
  return i;
}

function bindStageButtons() {
  $$("button.fv-compare, button.fv-show").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var i = +btn.getAttribute("data-stage");
      if (btn.classList.contains("fv-compare")) panes.before.stage = previousDifferent(i);
      panes.after.stage = i;
      refresh();
      document.getElementById("graphs").scrollIntoView({ block: "start" });
    });
  });
}

// --- attribute filter --------------------------------------------------------------------
function filterRows() {
  var q = filterBox ? filterBox.value.toLowerCase() : "";
  var shown = 0;
  $$("tr.fv-attr-row").forEach(function (row) {
    var ok = !fateOff[row.getAttribute("data-fate")] &&
      (!q || row.textContent.toLowerCase().indexOf(q) >= 0);
    row.hidden = !ok;
    if (ok) shown++;
  });
  var c = $(".fv-attr-shown");
  if (c) c.textContent = shown + " shown";
}

function bindFilters() {
  filterBox = document.getElementById("fv-attr-filter");
  if (filterBox) filterBox.addEventListener("input", filterRows);
  $$("button.fv-fate-toggle").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var f = btn.getAttribute("data-fate");
      fateOff[f] = !fateOff[f];
      btn.classList.toggle("fv-off", fateOff[f]);
      btn.setAttribute("aria-pressed", fateOff[f] ? "false" : "true");
      filterRows();
    });
  });
}

// --- copy buttons ------------------------------------------------------------------------
function bindCopyButtons() {
  $$("button.fv-copy").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var pre = document.getElementById(btn.getAttribute("data-target"));
      if (!pre) return;
      var text = pre.textContent;
      var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(pre); });
      } else {
        selectText(pre);
      }
    });
  });
}

function selectText(el) {
  var r = document.createRange(); r.selectNodeContents(el);
  var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
}

// --- start ---------------------------------------------------------------------------------
function fitHeights() {
  // small graphs: do not leave most of the panes empty (the user can still drag the corner)
  var need = 0, pad = 12;
  [panes.before, panes.after].forEach(function (p) {
    if (!p.svg) return;
    var k = Math.max(p.pz.legible, Math.min(1, (p.view.clientWidth - 2 * pad) / p.pz.w));
    need = Math.max(need, p.pz.h * k + 2 * pad + 16);
  });
  var h = Math.round(Math.max(320, Math.min(need, window.innerHeight * 0.68)));
  if (need && h < panes.before.view.clientHeight) {
    [panes.before, panes.after].forEach(function (p) {
      p.view.style.height = h + "px";
      if (p.svg) p.pz.fit("auto");
    });
  }
}

function startReport() {
  var dataEl = document.getElementById("fv-data");
  if (!dataEl) return;
  data = JSON.parse(dataEl.textContent);
  var failed = function (err) { document.documentElement.setAttribute("data-fv-error", String(err)); };
  addMembers().then(startPage, function (err) { failed(err); startPage(); });
  // big blocks outside <details> (a long attribute table) after the panes are up
  unpackBlocks().then(function () { bindAttributeRows(); filterRows(); }, failed);
}

function startPage() {
  $$(".fv-pane").forEach(function (el) { var p = new Pane(el); panes[p.side] = p; });
  colourFate = document.getElementById("fv-colour-fate");
  graphsEl = document.getElementById("graphs");
  diffCount = $(".fv-diffcount");
  crumbsEl = $(".fv-crumbs");
  graphMsg = $(".fv-graphmsg");
  $$("input[name=fv-colour]").forEach(function (r) { r.addEventListener("change", refresh); });
  bindAttributeRows();
  bindStageButtons();
  bindFilters();
  bindCopyButtons();
  if (panes.before && panes.after && data.stages.length) {
    panes.before.stage = data.defaults.before;
    panes.after.stage = data.defaults.after;
    refresh();
    fitHeights();
    window.addEventListener("resize", function () {
      [panes.before, panes.after].forEach(function (p) { if (p.svg && !p.pz.touched) p.pz.fit("auto"); });
    });
  }
  document.documentElement.setAttribute("data-fv-ready", "1");
}

startReport();
