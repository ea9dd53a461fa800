"""The details panel: what the selected node or attribute is, where it comes from and what
freezing did to it (HTML from a selection dict of :mod:`freezeviz.widgets.selection`)."""

from __future__ import annotations

from freezeviz.widgets.html import chip, esc, kv_table

EMPTY = ('<h4>Details</h4><p class="fv-muted">Click a node in either drawing, or an '
         'attribute in the table, to see what it is, where it comes from and what freezing '
         'did to it. Hover a node to find it in the other drawing; tick <b>keep</b> to '
         'pass an attribute in <code>preserved_attrs</code> and freeze again.</p>')


def details_html(report, sel: dict | None) -> str:
    if sel is None:
        return EMPTY
    kind = sel.get("type")
    if kind == "attribute":
        return _attribute(sel)
    where = f'{esc(sel["pane"])} pane · stage {esc(sel["stage"])}'
    if kind == "node":
        head, rows = _node(report, sel, where)
    elif kind == "input":
        head = f'<h4>graph input <code>%{esc(sel["name"])}</code></h4>'
        rows = [("where", where), ("type", f'<code>{esc(sel["value_type"])}</code>')]
    elif kind == "collapsed":
        head = f'<h4>collapsed submodule <code>self.{esc(sel["scope"])}</code></h4>'
        kinds = ", ".join(f"{esc(k)} ×{n}" for k, n in list(sel["kinds"].items())[:12])
        rows = [("where", where), ("nodes", str(sel["nodes"])), ("ops", kinds),
                ("", ("The drawing collapsed this submodule because the graph is large; "
                      "search or pick a later stage to see fewer nodes."))]
    elif kind == "output":
        head = "<h4>graph output</h4>"
        rows = [("where", where),
                ("returns", " ".join(f"<code>%{esc(o)}</code>" for o in sel["outputs"]))]
    else:
        head, rows = f'<h4>{esc(sel["svg_id"])}</h4>', [("where", where)]
    return head + kv_table(rows)


def _attribute(sel: dict) -> str:
    head = f'<h4><code>self.{esc(sel["attribute"])}</code> {chip(sel["fate"])}</h4>'
    rows = [("kind", esc(sel["kind"])), ("type", f'<code>{esc(sel["value_type"])}</code>'),
            ("why", esc(sel["why"]))]
    if sel.get("constant"):
        rows.append(("constant", f'<code>%{esc(sel["constant"])}</code>'))
    if sel.get("folded_by"):
        rows.append(("folded by", esc(sel["folded_by"])))
    if sel.get("warning"):
        rows.append(("warning", f'<span class="fv-at-warn">⚠ {esc(sel["warning"])}</span>'))
    body = ""
    if sel["evidence"]:
        body = ("<div class='fv-muted'>evidence</div><ul style='margin:2px 0 0 18px;padding:0'>"
                + "".join(f"<li>{esc(e)}</li>" for e in sel["evidence"]) + "</ul>")
    hint = ("<p class='fv-muted'>Highlighted in both drawings where it is read, written "
            "or became a constant.</p>")
    return head + kv_table(rows) + body + hint


def _shape(o: dict) -> str:
    text = f'<code>%{esc(o["name"])} : {esc(o["type"])}</code>'
    if o["shape"] is not None:
        text += f' {esc("×".join("?" if d is None else str(d) for d in o["shape"]))}'
    return text + (f' {esc(o["dtype"])}' if o["dtype"] else "")


def _node(report, sel: dict, where: str) -> tuple[str, list[tuple[str, str]]]:
    head = (f'<h4><code>{esc(sel["kind"])}</code> '
            f'<span class="fv-muted">{esc(sel["node"])}</span></h4>')
    rows = [("where", where), ("outputs", "<br>".join(_shape(o) for o in sel["outputs"]) or "–")]
    if sel["inputs"]:
        rows.append(("inputs", " ".join(f"<code>%{esc(i)}</code>" for i in sel["inputs"])))
    if sel["scope"]:
        rows.append(("module", f'<code>self.{esc(sel["scope"])}</code>'))
    if sel["source"]:
        src = f'<code>{esc(sel["source"].rsplit("/", 1)[-1])}</code>'
        if sel["code"]:
            src += f'<pre>{esc(sel["code"])}</pre>'
        rows.append(("source", src))
    if sel["constant"]:
        rows.append(("value", f'<code>{esc(sel["constant"])}</code>'))
    if sel["writes"]:
        rows.append(("writes", ", ".join(f'<code>self.{esc(w)}</code>' for w in sel["writes"])))
    for p in sel["attributes"]:
        try:
            a = report.attribute(p)
        except KeyError:
            continue
        rows.append(("attribute", (f'<code>self.{esc(p)}</code> {chip(a.fate)}'
                                   f'<div class="fv-muted">{esc(a.why)}</div>')))
    other = ("also in the other drawing (hover to see it)" if sel.get("in_other_pane")
             else "not in the other drawing")
    rows.append(("identity", other))
    return head, rows
