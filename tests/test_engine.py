"""The engine's promises beyond the corpus: the user's module is untouched, results are cached,
numerics are measured, the freezer's log is captured and the logging state restored."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle

import pytest
import torch

import freezeviz
from freezeviz.data.diff import normalize_graph_text
from tests.corpus import modules as M


def _state(mod):
    flags = [(n, m.training) for n, m in mod.named_modules()]
    tensors = {k: v.detach().clone() for k, v in mod.state_dict().items()}
    return flags, tensors


def _same(a, b):
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for k in a[1]:
        assert torch.equal(a[1][k], b[1][k]), k


@pytest.mark.parametrize("as_script", [True, False])
def test_training_module_is_frozen_as_eval_and_left_unchanged(as_script):
    mod = M.HelperCounter()  # training mode; forward writes ema and calls
    arg = torch.jit.script(mod) if as_script else mod
    before = _state(arg)
    calls_before = arg.calls
    report = freezeviz.freeze(arg, example_inputs=(torch.randn(3),))
    _same(before, _state(arg))
    assert arg.calls == calls_before
    assert arg.training
    assert any("training mode" in w for w in report.warnings)
    truth = torch.jit.freeze(torch.jit.script(M.HelperCounter().eval()))
    assert normalize_graph_text(str(report.frozen_module.graph)) == \
        normalize_graph_text(str(truth.graph))
    # the frozen module's own state is untouched by the numerics runs
    assert report.frozen_module.calls == 0
    assert torch.equal(report.frozen_module.ema, torch.zeros(3))


def test_optimize_for_inference_leaves_the_caller_in_training_mode():
    scripted = torch.jit.script(M.ConvBN())
    report = freezeviz.freeze(scripted, optimize_for_inference=True)
    assert scripted.training and scripted.bn.training
    names = [s.name for s in report.stages]
    assert names[-3:] == ["fuse_conv_add_relu", "convert_to_mkldnn", "transpose_frozen_linear"]


def test_cache_returns_the_same_report_until_the_module_changes():
    scripted = torch.jit.script(M.IntCounter().eval())
    first = freezeviz.freeze(scripted)
    assert freezeviz.freeze(scripted) is first
    assert freezeviz.freeze(scripted, ["scale"]) is not first
    scripted.scale = 3.0  # a changed attribute must be seen
    again = freezeviz.freeze(scripted)
    assert again is not first
    assert "3." in again.final_stage().graph.text


def test_numerics_per_stage_show_folding_error():
    torch.manual_seed(0)
    mod = M.ConvBN().eval()
    with torch.no_grad():
        mod.bn.running_var.uniform_(0.5, 2.0)
        mod.bn.running_mean.uniform_(-1, 1)
    report = freezeviz.freeze(mod, example_inputs=torch.randn(2, 3, 8, 8))
    rows = {r.stage: r for r in report.numerics}
    assert rows["scripted"].max_abs == 0.0
    assert rows["frozen"].max_abs == 0.0  # inlining moves no numbers
    assert 0.0 < rows["fold_conv_bn"].max_abs < 1e-4  # folding does, a little
    assert set(rows) >= {"inlined", "remove_dropout", "fold_linear_bn"}


def test_bad_example_inputs_get_a_clear_error():
    with pytest.raises(freezeviz.FreezeError, match="example_inputs do not run"):
        freezeviz.freeze(M.ConvBN().eval(), example_inputs=torch.randn(3))


def test_not_torchscript_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(M.ConvBN().state_dict(), path)
    with pytest.raises(freezeviz.FreezeError, match="torch.jit.load could not load"):
        freezeviz.freeze(str(path))
    with pytest.raises(freezeviz.FreezeError, match="No such file"):
        freezeviz.freeze(str(tmp_path / "missing.pt"))


def test_already_frozen_and_wrong_types():
    frozen = torch.jit.freeze(torch.jit.script(M.IntCounter().eval()))
    with pytest.raises(freezeviz.FreezeError, match="already frozen"):
        freezeviz.freeze(frozen)
    with pytest.raises(freezeviz.FreezeError, match="expects an nn.Module"):
        freezeviz.freeze(42)


def test_unscriptable_module_is_traced_with_example_inputs():
    report = freezeviz.freeze(M.Untypable(), example_inputs=(torch.randn(2),))
    assert any("traced" in w for w in report.warnings)
    assert report.final_stage().graph.count() > 0


def test_unscriptable_without_inputs_says_what_to_do():
    with pytest.raises(freezeviz.FreezeError, match="example_inputs") as info:
        freezeviz.freeze(M.Untypable())
    assert info.value.__cause__ is not None


def test_freeze_log_is_captured_and_logging_restored():
    torch._C._jit_set_logging_option("")
    report = freezeviz.freeze(torch.jit.script(M.MyModule2().eval()), ["version"])
    assert any("modified_tensor" in line and "has inplace writer" in line for line in report.log)
    assert torch._C._jit_get_logging_option() == ""
    os.write(2, b"")  # fd 2 is usable again


def test_explain_names_the_writing_statement():
    report = freezeviz.freeze(torch.jit.script(M.HelperCounter().eval()))
    text = report.explain("ema")
    assert "modules.py:" in text and "e.mul_(self.alpha)" in text
    text = report.explain("calls")
    assert "self.calls = self.calls + 1" in text
    with pytest.raises(KeyError, match="Did you mean"):
        report.explain("emma")


def test_unused_attribute_points_at_the_method_to_preserve():
    report = freezeviz.freeze(torch.jit.script(M.ExportedReset().eval()))
    why = report.attribute("step").why
    assert "reset()" in why and "preserved_attrs" in why


def test_folded_attribute_names_the_pass():
    report = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()))
    a = report.attribute("bn.running_var")
    assert a.fate == freezeviz.Fate.FOLDED and a.folded_by == "fold_conv_bn"
    # constant pooling: bn.weight (ones) and running_var (ones) share one constant
    assert report.attribute("bn.weight").fate == freezeviz.Fate.FOLDED


def test_report_is_plain_data():
    report = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()))
    data = pickle.dumps((report.stages, report.attributes, report.alias))
    # the classes a pickle names (quoted source lines are strings such as "torch.x.y," too)
    modules = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            modules.add(module)
            return super().find_class(module, name)

    Recorder(io.BytesIO(data)).load()
    assert modules and all(m.startswith("freezeviz.") for m in modules - {"builtins"}), modules
    assert len(data) < 200_000
    d = report.to_dict()
    assert {a["path"] for a in d["attributes"]} >= {"conv.weight", "bn.running_var"}
    assert "torch.jit.freeze(" in report.repro()


def test_alias_report_lists_writers():
    report = freezeviz.freeze(torch.jit.script(M.AliasedWrite().eval()))
    writers = {(w.attribute, w.writer) for a in report.alias for w in a.writers}
    assert ("a", "aten::add_") in writers and ("b", "aten::mul_") in writers
    assert "digraph" in report.alias[0].dot


def test_conservative_alias_keeps_are_told_apart_from_real_writes():
    from freezeviz.examples import transformer_encoder

    report = freezeviz.freeze(transformer_encoder(layers=1, d_model=32))
    truth = torch.jit.freeze(torch.jit.script(transformer_encoder(layers=1, d_model=32)))
    assert hasattr(truth.layers, "0")  # torch really keeps the layer's state
    a = report.attribute("layers.0.self_attn.in_proj_weight")
    assert a.fate == freezeviz.Fate.PRESERVED_MUTATED
    assert "cannot rule out" in a.why
    assert len(a.evidence) == len(set(a.evidence))  # no repeated evidence


def test_pooled_constants_follow_graph_copies():
    """Constant pooling merges equal values; the trace must survive the renumbering of
    graph.copy() and not spread a pooled None to every folded bias."""
    from freezeviz.examples import resnet_tiny

    report = freezeviz.freeze(resnet_tiny())
    final = report.final_stage().graph
    biases = []
    for node in final.iter_nodes():
        if node.constant is not None and "_fused_bn" in node.outputs[0].name:
            assert len(node.constant.attributes) == 1, node.constant.attributes
            if "bias" in node.outputs[0].name:
                biases.append(node.constant.attributes[0])
    # torch names every bias folded from bias=None after one pooled None ("self.conv1.bias");
    # each is traced to its own layer through the convolution it feeds
    assert len(biases) == len(set(biases)) > 5
    for conv in (n for n in final.iter_nodes() if n.kind == "aten::conv2d"):
        w, b = (final.producer(conv.inputs[i]).constant.attributes[0] for i in (1, 2))
        assert w.rsplit(".", 1)[0] == b.rsplit(".", 1)[0], (w, b)
    for a in report.attributes:
        if a.fate == freezeviz.Fate.FOLDED:
            stage = report.stage(a.folded_by)
            assert stage.changed, (a.path, a.folded_by)


def test_snapshots_hold_every_node_blocks_included():
    from freezeviz.engine.torchscript.extract import snapshot_graph

    def count(nodes):
        return sum(1 + sum(count(b.nodes()) for b in n.blocks()) for n in nodes)

    for cls in (M.Branchy, M.DataLoop, M.ConvBN, M.ForkMutation):
        g = torch.jit.script(cls().eval()).forward.graph.copy()
        torch._C._jit_pass_inline(g)
        assert snapshot_graph(g).count() == count(g.nodes()), cls


def test_each_stage_code_is_that_stage_and_pickles_as_text():
    from freezeviz.examples import conv_bn_relu

    report = freezeviz.freeze(conv_bn_relu())
    frozen, nodrop, folded = (report.stage(n) for n in ("frozen", "remove_dropout", "fold_conv_bn"))
    assert "dropout" in frozen.code and "dropout" not in nodrop.code
    assert "batch_norm" in nodrop.code and "batch_norm" not in folded.code
    # plain text from the start: the report holds no callable into torch
    assert all(type(s.code) is str for s in report.stages)
    again = pickle.loads(pickle.dumps(report.stages))
    assert [s.code for s in again] == [s.code for s in report.stages]
    # a stage that changed nothing shows the code of the graph before it
    same = [(a, b) for a, b in zip(report.stages, report.stages[1:])
            if b.method == a.method and b.graph is a.graph]
    assert same and all(a.code == b.code for a, b in same)
    truth = torch.jit.freeze(torch.jit.script(conv_bn_relu()))
    # the body is torch's own printout of the frozen forward (the first line names self's type)
    assert report.final_stage().code.splitlines()[1:] == truth.code.splitlines()[1:]


def test_report_is_complete_and_immutable_once_built():
    report = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()), example_inputs=torch.randn(1, 3, 8, 8))
    assert report.numerics and report.stages
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.numerics = ()
    for name in ("stages", "attributes", "methods", "alias", "warnings", "numerics", "constants"):
        assert isinstance(getattr(report, name), tuple), name
    assert not [k for k in vars(report) if k.startswith("_")]


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(freezeviz.FreezeError, match="'nope'.*'torchscript'"):
        freezeviz.freeze(M.ConvBN(), backend="nope")


def test_a_registered_backend_is_used_by_name():
    from freezeviz.engine import backend

    made = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()))
    asked = []

    class Canned:
        name = "canned"

        def check(self, module):
            pass

        def freeze(self, request):
            asked.append(request)
            return made

    backend.register(Canned())
    try:
        assert freezeviz.freeze(M.ConvBN(), ["bn"], False, backend="canned") is made
        assert isinstance(Canned(), backend.Backend) and "canned" in backend.names()
    finally:
        backend.unregister("canned")
    (req,) = asked
    assert req.preserved_attrs == ("bn",) and req.optimize_numerics is False


class _Tagged:
    """The TorchScript backend with a tag among its report's warnings; every instance is
    named "tagged", as two configurations of one backend class are."""

    name = "tagged"

    def __init__(self, tag: str):
        self.tag = tag

    def check(self, module):
        from freezeviz.engine.torchscript.backend import BACKEND

        BACKEND.check(module)

    def freeze(self, request):
        import dataclasses

        from freezeviz.engine.torchscript.backend import BACKEND

        return dataclasses.replace(BACKEND.freeze(request), warnings=(self.tag,))


def test_two_configurations_of_a_backend_never_share_a_report():
    from freezeviz.engine import backend

    module = M.ConvBN().eval()
    backend.register(_Tagged("first"), "tagged-1")
    backend.register(_Tagged("second"), "tagged-2")
    try:
        assert freezeviz.freeze(module, backend="tagged-1").warnings == ("first",)
        assert freezeviz.freeze(module, backend="tagged-2").warnings == ("second",)
        # a backend object is taken as it is, and is a configuration of its own
        third = _Tagged("third")
        assert freezeviz.freeze(module, backend=third).warnings == ("third",)
        assert freezeviz.freeze(module, backend=third) is freezeviz.freeze(module, backend=third)
    finally:
        backend.unregister("tagged-1")
        backend.unregister("tagged-2")


def test_a_backend_that_is_no_backend_is_refused():
    with pytest.raises(freezeviz.FreezeError, match="name of a freeze backend.*got int"):
        freezeviz.freeze(M.ConvBN(), backend=3)


def test_module_list_scopes_keep_their_container():
    from freezeviz.examples import transformer_encoder

    report = freezeviz.freeze(transformer_encoder(layers=2, d_model=32))
    scopes = {n.scope for n in report.final_stage().graph.iter_nodes()}
    assert "layers.0.self_attn" in scopes and "layers.1" in scopes
    assert not any(s.split(".")[0] in ("0", "1") for s in scopes)


def test_freeze_leaves_the_garbage_collector_as_it_found_it():
    import gc

    assert gc.isenabled()
    freezeviz.freeze(M.ConvBN())
    assert gc.isenabled()
    with pytest.raises(freezeviz.FreezeError):
        freezeviz.freeze(M.ConvBN(), ["no_such_attribute"])
    assert gc.isenabled()
    gc.disable()
    try:
        freezeviz.freeze(M.ConvBN(), ["bn"])
        assert not gc.isenabled()
    finally:
        gc.enable()
