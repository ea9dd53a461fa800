/* freezeviz HTML report: stage pickers, pan/zoom, diff colours, cross-highlighting.
 * Inlined into the report. Reads only the JSON block #fv-data and the <template> drawings;
 * every string from the model is set with textContent or compared, never parsed as HTML. */
(function () {
  "use strict";
  var XLINK = "http://www.w3.org/1999/xlink";
  var dataEl = document.getElementById("fv-data");
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var masters = {};

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // --- drawings ---------------------------------------------------------------------------
  function tipOf(g) {
    var a = g.querySelector("a");
    if (!a) return "";
    return a.getAttributeNS(XLINK, "title") || a.getAttribute("xlink:title") || "";
  }

  function prepare(svg) {
    // graphviz titles name DOT nodes ("n12"); show the real tooltip instead
    $$("g.graph > title, g.edge > title, g.cluster > title", svg).forEach(function (t) { t.remove(); });
    $$("g.node", svg).forEach(function (g) {
      var t = g.querySelector(":scope > title");
      var tip = tipOf(g);
      g.setAttribute("data-tip", tip);
      if (t) { if (tip) { t.textContent = tip; } else { t.remove(); } }
    });
    return svg;
  }

  function drawing(tplId) {
    if (!masters[tplId]) {
      var tpl = document.getElementById(tplId);
      var svg = tpl && tpl.content.querySelector("svg");
      if (!svg) return null;
      masters[tplId] = prepare(document.importNode(svg, true));
    }
    return masters[tplId].cloneNode(true);
  }

  function tipLines(g) { return (g.getAttribute("data-tip") || "").split("\n"); }

  // --- panes ------------------------------------------------------------------------------
  function Pane(el) {
    var self = this;
    this.el = el;
    this.side = el.getAttribute("data-side");
    this.view = $(".fv-view", el);
    this.canvas = $(".fv-canvas", el);
    this.select = $("select", el);
    this.zoomLabel = $(".fv-zoomlabel", el);
    this.k = 1; this.x = 0; this.y = 0; this.w = 1; this.h = 1;
    this.svg = null; this.tpl = null; this.stage = null;
    this.select.addEventListener("change", function () {
      self.stage = +self.select.value; refresh();
    });
    $(".fv-prev", el).addEventListener("click", function () { self.step(-1); });
    $(".fv-next", el).addEventListener("click", function () { self.step(1); });
    $(".fv-zin", el).addEventListener("click", function () { self.zoomCenter(1.25); });
    $(".fv-zout", el).addEventListener("click", function () { self.zoomCenter(0.8); });
    $(".fv-fit", el).addEventListener("click", function () { self.fit("all"); });
    $(".fv-one", el).addEventListener("click", function () { self.fit("one"); });
    this.bindPointer();
  }

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
      clearMarks(this.svg, ["fvx-added", "fvx-removed"]);
      return;
    }
    var svg = drawing(tplId);
    this.canvas.textContent = "";
    this.tpl = tplId; this.svg = svg;
    if (!svg) return;
    this.canvas.appendChild(svg);
    this.w = (svg.width && svg.width.baseVal.value) || svg.getBBox().width || 1;
    this.h = (svg.height && svg.height.baseVal.value) || svg.getBBox().height || 1;
    this.fit("auto");
  };

  Pane.prototype.apply = function () {
    this.canvas.style.transform = "translate(" + this.x + "px," + this.y + "px) scale(" + this.k + ")";
    this.zoomLabel.textContent = Math.round(this.k * 100) + "%";
  };

  Pane.prototype.fit = function (mode) {
    var vw = this.view.clientWidth, vh = this.view.clientHeight, pad = 12;
    if (mode === "all") {
      this.k = Math.min((vw - 2 * pad) / this.w, (vh - 2 * pad) / this.h, 2);
    } else if (mode === "one") {
      this.k = 1;
    } else {
      // the whole graph when its labels stay readable; else readable, from the top, input centred
      var kw = (vw - 2 * pad) / this.w, kall = Math.min(kw, (vh - 2 * pad) / this.h);
      this.k = kall >= 0.5 ? Math.min(1, kall) : Math.min(1, Math.max(kw, 0.6));
    }
    this.k = Math.max(this.k, 0.02);
    var cw = this.w * this.k, ch = this.h * this.k;
    this.x = cw <= vw ? (vw - cw) / 2 : pad;
    this.y = ch <= vh ? (vh - ch) / 2 : pad;
    this.apply();
    if (mode === "auto" && cw > vw) {
      var input = this.svg.querySelector("g.node.fv-input") || this.svg.querySelector("g.node");
      if (input) {
        var vr = this.view.getBoundingClientRect(), r = input.getBoundingClientRect();
        this.x += vr.left + vr.width / 2 - (r.left + r.width / 2);
        this.x = Math.min(pad, Math.max(vw - cw - pad, this.x));
        this.apply();
      }
    }
  };

  Pane.prototype.zoomAt = function (factor, cx, cy) {
    var k = Math.min(8, Math.max(0.02, this.k * factor));
    factor = k / this.k;
    this.x = cx - (cx - this.x) * factor;
    this.y = cy - (cy - this.y) * factor;
    this.k = k;
    this.apply();
  };

  Pane.prototype.zoomCenter = function (factor) {
    this.zoomAt(factor, this.view.clientWidth / 2, this.view.clientHeight / 2);
  };

  Pane.prototype.clampWheel = function (x, y) {
    var vw = this.view.clientWidth, vh = this.view.clientHeight, m = 24;
    var cw = this.w * this.k, ch = this.h * this.k;
    if (cw > vw) x = Math.min(m, Math.max(vw - cw - m, x)); else x = this.x;
    if (ch > vh) y = Math.min(m, Math.max(vh - ch - m, y)); else y = this.y;
    return [x, y];
  };

  Pane.prototype.center = function (g) {
    // scroll so that node g is in the middle of the view
    var vr = this.view.getBoundingClientRect(), r = g.getBoundingClientRect();
    this.x += vr.left + vr.width / 2 - (r.left + r.width / 2);
    this.y += vr.top + vr.height / 2 - (r.top + r.height / 2);
    this.apply();
  };

  Pane.prototype.bindPointer = function () {
    var self = this, view = this.view, start = null;
    view.addEventListener("wheel", function (e) {
      if (!self.svg) return;
      var r = view.getBoundingClientRect();
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        self.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
        return;
      }
      var unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? view.clientHeight : 1;
      var dx = (e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX) * unit;
      var dy = (e.shiftKey && !e.deltaX ? 0 : e.deltaY) * unit;
      var next = self.clampWheel(self.x - dx, self.y - dy);
      if (Math.abs(next[0] - self.x) < 0.5 && Math.abs(next[1] - self.y) < 0.5) return; // let the page scroll
      e.preventDefault();
      self.x = next[0]; self.y = next[1];
      self.apply();
    }, { passive: false });
    view.addEventListener("pointerdown", function (e) {
      if (e.button !== 0 || !self.svg) return;
      start = { px: e.clientX, py: e.clientY, x: self.x, y: self.y, moved: false, id: e.pointerId };
    });
    view.addEventListener("pointermove", function (e) {
      if (!start || e.pointerId !== start.id) return;
      var dx = e.clientX - start.px, dy = e.clientY - start.py;
      if (!start.moved && Math.abs(dx) + Math.abs(dy) > 4) {
        start.moved = true;
        view.classList.add("fv-dragging");
        try { view.setPointerCapture(e.pointerId); } catch (err) { /* not capturable */ }
      }
      if (start.moved) {
        self.x = start.x + dx; self.y = start.y + dy;
        self.apply();
      }
    });
    function end(e) {
      if (!start || e.pointerId !== start.id) return;
      var moved = start.moved;
      start = null;
      view.classList.remove("fv-dragging");
      if (!moved && e.type === "pointerup") {
        var g = e.target.closest ? e.target.closest("g.node") : null;
        selectNode(self, g);
      }
    }
    view.addEventListener("pointerup", end);
    view.addEventListener("pointercancel", end);
    view.addEventListener("dblclick", function (e) {
      var r = view.getBoundingClientRect();
      self.zoomAt(e.shiftKey ? 0.6 : 1.6, e.clientX - r.left, e.clientY - r.top);
    });
  };

  var panes = {};
  $$(".fv-pane").forEach(function (el) { var p = new Pane(el); panes[p.side] = p; });
  var diffBox = document.getElementById("fv-diff");
  var diffCount = $(".fv-diffcount");
  var graphMsg = $(".fv-graphmsg");

  function clearMarks(svg, classes) {
    classes.forEach(function (c) { $$("g." + c, svg).forEach(function (g) { g.classList.remove(c); }); });
  }

  // --- diff colours ----------------------------------------------------------------------
  function nodeInfo(svg) {
    var ids = {}, boxes = [], nodes = [], limited = false;
    $$("g.node", svg).forEach(function (g) {
      if (g.id === "fv_more") { limited = true; return; }
      if (g.classList.contains("fv-collapsed")) {
        var first = tipLines(g)[0] || "";
        var m = /^submodule (.*) collapsed:/.exec(first);
        if (m) boxes.push(m[1]);
        return;
      }
      if (g.id === "fv_output" || g.classList.contains("fv-note")) return;
      ids[g.id] = true;
      nodes.push(g);
    });
    return { ids: ids, boxes: boxes, nodes: nodes, limited: limited };
  }

  function scopeOf(g) {
    var lines = tipLines(g);
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].indexOf("scope: ") === 0) return lines[i].slice(7);
    }
    return "";
  }

  function inBox(g, boxes) {
    if (!boxes.length) return false;
    var s = scopeOf(g);
    if (!s) return false;
    for (var i = 0; i < boxes.length; i++) {
      if (s === boxes[i] || s.indexOf(boxes[i] + ".") === 0) return true;
    }
    return false;
  }

  function markDiff(a, b) {
    // nodes of b missing from a are added; nodes of a missing from b are removed
    var ia = nodeInfo(a), ib = nodeInfo(b), added = 0, removed = 0;
    if (ia.limited || ib.limited) return null;
    ib.nodes.forEach(function (g) {
      if (!ia.ids[g.id] && !inBox(g, ia.boxes)) { g.classList.add("fvx-added"); added++; }
    });
    ia.nodes.forEach(function (g) {
      if (!ib.ids[g.id] && !inBox(g, ib.boxes)) { g.classList.add("fvx-removed"); removed++; }
    });
    return [added, removed];
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
      (s.changed ? "changed the graph" : "left the graph unchanged") +
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
    var want = diffBox && diffBox.checked && sa.method === sb.method && sa.graph !== sb.graph;
    var pair = want ? data.diffs[sa.graph + ":" + sb.graph] : null;
    pa.load(pair ? pair.before : data.graphs[sa.graph].tpl);
    pb.load(pair ? pair.after : data.graphs[sb.graph].tpl);
    var counts = null;
    if (pair && pa.svg && pb.svg) counts = countDrawn(pa.svg, pb.svg);
    else if (want && pa.svg && pb.svg) counts = markDiff(pa.svg, pb.svg);
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

  if (diffBox) diffBox.addEventListener("change", refresh);

  // --- selection and highlighting -----------------------------------------------------------
  var highlightPath = null;

  function selectNode(pane, g) {
    [panes.before, panes.after].forEach(function (p) { if (p.svg) clearMarks(p.svg, ["fvx-sel"]); });
    if (!g) { graphMsg.textContent = ""; return; }
    var other = pane === panes.before ? panes.after : panes.before;
    g.classList.add("fvx-sel");
    var twin = other.svg && g.id ? other.svg.querySelector("#" + CSS.escape(g.id)) : null;
    if (twin) {
      twin.classList.add("fvx-sel");
      other.center(twin);
      graphMsg.textContent = "Selected node is also in the " + other.side + " pane (centred there).";
    } else {
      graphMsg.textContent = "Selected node is not in the " + other.side + " pane.";
    }
  }

  function attrHits(svg, path) {
    var wants = ["attribute: self." + path, "from self." + path, "writes self." + path];
    return $$("g.node", svg).filter(function (g) {
      var lines = tipLines(g);
      for (var i = 0; i < lines.length; i++) { if (wants.indexOf(lines[i]) >= 0) return true; }
      return false;
    });
  }

  function reapplyHighlight() {
    var total = 0;
    [panes.before, panes.after].forEach(function (p) {
      if (!p.svg) return;
      clearMarks(p.svg, ["fvx-hl"]);
      if (highlightPath === null) return;
      var hits = attrHits(p.svg, highlightPath);
      hits.forEach(function (g) { g.classList.add("fvx-hl"); });
      total += hits.length;
      if (hits.length) p.center(hits[0]);
    });
    if (highlightPath !== null) {
      graphMsg.textContent = total ? "Highlighted " + total + " node(s) for self." + highlightPath + "."
        : "self." + highlightPath + " does not appear in either drawing (it may be inside a collapsed box, or removed).";
    }
  }

  $$("tr.fv-attr-row").forEach(function (row) {
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

  // --- stage table: compare a stage with the one before it -----------------------------------
  function previousDifferent(i) {
    var s = data.stages[i];
    for (var j = i - 1; j >= 0; j--) {
      var t = data.stages[j];
      if (t.method === s.method && t.graph !== s.graph) return j;
    }
    return i;
  }

  $$("button.fv-compare, button.fv-show").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var i = +btn.getAttribute("data-stage");
      if (btn.classList.contains("fv-compare")) panes.before.stage = previousDifferent(i);
      panes.after.stage = i;
      refresh();
      document.getElementById("graphs").scrollIntoView({ block: "start" });
    });
  });

  // --- attribute filter --------------------------------------------------------------------
  var filterBox = document.getElementById("fv-attr-filter");
  var fateOff = {};
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

  // --- copy buttons ------------------------------------------------------------------------
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
      var k = Math.min(1, (p.view.clientWidth - 2 * pad) / p.w);
      need = Math.max(need, p.h * k + 2 * pad + 16);
    });
    var h = Math.round(Math.max(320, Math.min(need, window.innerHeight * 0.68)));
    if (need && h < panes.before.view.clientHeight) {
      [panes.before, panes.after].forEach(function (p) {
        p.view.style.height = h + "px";
        if (p.svg) p.fit("auto");
      });
    }
  }

  if (panes.before && panes.after && data.stages.length) {
    panes.before.stage = data.defaults.before;
    panes.after.stage = data.defaults.after;
    refresh();
    fitHeights();
    window.addEventListener("resize", function () {
      [panes.before, panes.after].forEach(function (p) { if (p.svg) p.fit("auto"); });
    });
  }
  document.documentElement.setAttribute("data-fv-ready", "1");
})();
