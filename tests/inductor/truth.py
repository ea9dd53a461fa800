"""torch's own frozen graph, captured without freezeviz: a plain torch.compile with freezing on,
whose inner_compile keeps the graph Inductor hands to code generation."""

from __future__ import annotations

import copy

import torch
from torch._functorch._aot_autograd.utils import make_boxed_func
from torch._inductor import config
from torch._inductor.compile_fx import compile_fx


def torch_frozen(model, inputs):
    """(the compiled copy of the model, {"dynamo": gm, "final": gm}, the compiled outputs)."""
    work = copy.deepcopy(model)
    seen = {}

    def inner(gm, example_inputs, **kwargs):
        seen["final"] = gm
        return make_boxed_func(gm.forward)

    def backend(gm, example_inputs):
        seen["dynamo"] = gm
        return compile_fx(gm, example_inputs, inner_compile=inner)

    # the state as compiled: forward may reassign an attribute to a new tensor when it runs
    seen["state"] = [*work.named_parameters(remove_duplicate=False),
                     *work.named_buffers(remove_duplicate=False)]
    torch._dynamo.reset()
    try:
        with torch.no_grad(), config.patch(freezing=True):
            out = torch.compile(work, backend=backend, fullgraph=True)(*copy.deepcopy(inputs))
    finally:
        torch._dynamo.reset()
    return work, seen, out


def truth_fates(work, seen) -> dict[str, str]:
    """Each parameter and buffer by path: "removed_unused" (the traced graph never reads it),
    "preserved_mutated" (still a graph input of the frozen graph, which writes it with copy_),
    "preserved_aliased" (still a graph input, not written, and an output is a view of it),
    "inlined" (the frozen graph reads its very tensor as a constant) or "gone" (read, made a
    constant, then folded into others: every attribute the corpus models read reaches an
    output)."""
    dyn, final = seen["dynamo"], seen["final"]
    read = {str(n.target) for n in dyn.graph.find_nodes(op="get_attr")}
    # AOTAutograd's input descriptors name the Dynamo graph's attribute for each state input
    kept = {n.meta["desc"].target: _kept_as(n, final.graph)
            for n in final.graph.find_nodes(op="placeholder")
            if getattr(n.meta.get("desc"), "target", None) in read}
    constants = [getattr(final, str(n.target)) for n in final.graph.find_nodes(op="get_attr")]
    out = {}
    for path, t in seen["state"]:
        flat = next((f for f in read if getattr(dyn, f, None) is t), None)
        if flat is None:
            out[path] = "removed_unused"
        elif flat in kept:
            out[path] = kept[flat]
        elif any(c is t for c in constants):
            out[path] = "inlined"
        else:
            out[path] = "gone"
    return out


def _kept_as(placeholder, graph) -> str:
    """Why the frozen graph still takes this state as an input: a copy_ writes it, or an output
    is a view of it (the op schemas say which results alias their argument)."""
    if any(n.target is torch.ops.aten.copy_.default and n.args[0] is placeholder
           for n in graph.find_nodes(op="call_function", target=torch.ops.aten.copy_.default)):
        return "preserved_mutated"
    outputs = graph.output_node().args[0]
    if any(_views(o, placeholder) for o in outputs if isinstance(o, torch.fx.Node)):
        return "preserved_aliased"
    return "kept for no reason the graph shows"


def _views(node, placeholder) -> bool:
    """Is ``node`` ``placeholder`` or a chain of aliasing views of it?"""
    while node is not placeholder:
        schema = getattr(node.target, "_schema", None)
        if node.op != "call_function" or schema is None or not node.args \
                or not schema.returns or schema.returns[0].alias_info is None:
            return False
        node = node.args[0]
    return True
