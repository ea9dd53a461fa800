/* freezeviz HTML report, part two: what the report unpacks when it needs it (gzip'd blocks,
 * node-map members, opened module views) and opening modules in place in both panes.
 * Inlined with graph.js and report.js in the report's one script; it shares report.js's
 * state (data, panes, expansion, graphMsg, crumbsEl). */
// --- opening modules in place ----------------------------------------------------------
// The report holds, for the default stages, each module of the overview (and each module
// inside those) drawn open, gzip'd: one chain of modules is open at a time, in both panes.
function unpackText(b64) {
  var bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

function unpack(b64) { return unpackText(b64).then(JSON.parse); }

// Big blocks (attribute table, text diffs, alias dumps) come gzip'd in data-z (html.py
// _lazy): the HTML is the report's own, escaped when it was written.
function unpackBlock(el) {
  if (!el._fv) {
    el._fv = unpackText(el.getAttribute("data-z")).then(function (html) {
      el.innerHTML = html;
      el.removeAttribute("data-z");
    });
  }
  return el._fv;
}

function unpackBlocks() {
  var now = [];
  $$(".fv-lazy[data-z]").forEach(function (el) {
    var box = el.closest("details");
    if (!box) { now.push(unpackBlock(el)); return; }
    box.addEventListener("toggle", function () { if (box.open) unpackBlock(el); });
  });
  return Promise.all(now);
}

function addMembers() {
  if (!data.members) return Promise.resolve();
  return unpack(data.members).then(function (members) {
    Object.keys(members).forEach(function (tpl) {
      var map = data.maps[tpl] || {}, own = members[tpl];
      if (typeof own === "string") own = members[own];  // the same boxes as that drawing's
      Object.keys(own).forEach(function (sid) {
        if (map[sid]) map[sid].members = own[sid];
      });
    });
  });
}

function openedView(p, path) {
  var side = data.expand && data.expand[p.side];
  if (!path || !side || side.stage !== p.stage || !side.views[path]) return null;
  var key = p.side + "\n" + path;
  if (!opened[key]) opened[key] = unpack(side.views[path]);
  return opened[key];
}

// One chain of modules (or one block of control flow of the root) is open at a time.
function expand(req) {
  var module = req.path.indexOf("if:") !== 0;
  var parent = module && req.path.indexOf(".") > 0 ? req.path.slice(0, req.path.lastIndexOf(".")) : "";
  expansion.upTo(parent);
  if (req.open) expansion.apply(req);
  showExpansion(req.path);
}

function showExpansion(anchor) {
  var path = expansion.last, done = [];
  [panes.before, panes.after].forEach(function (p) {
    if (path === p.opened) return;
    var job = openedView(p, path);
    if (!path) { p.tpl = null; refreshPane(p, anchor); return; }
    if (!job) {
      graphMsg.textContent = "This report holds opened views of the default stages' top-level " +
        "modules and the modules inside them; the notebook inspector opens any box.";
      return;
    }
    done.push(job.then(function (v) {
      var svg = document.importNode(new DOMParser().parseFromString(v.svg, "image/svg+xml").documentElement, true);
      p.svg = svg; p.map = v.map; p.opened = path;
      p.pz.swap(svg, v.map, anchor);
      p.runSearch();
    }));
  });
  FVGraph.crumbs(crumbsEl, expansion, function (top) { expansion.upTo(top); showExpansion(top); });
  Promise.all(done).then(function () { reapplyHighlight(); document.documentElement.setAttribute("data-fv-opened", path); });
}

function refreshPane(p, anchor) {
  var before = p.pz.k;
  refresh();
  p.pz.k = before;
  if (anchor) { var g = p.pz.expandElement(anchor); if (g) p.pz.center(g); }
}
