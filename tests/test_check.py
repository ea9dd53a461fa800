"""``freezeviz check`` / ``diff`` and ``freezeviz.compare``: a baseline of attribute fates, and
what changes when a model changes. Every expected fate change is checked against the module
that the real ``torch.jit.freeze`` returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import freezeviz
from freezeviz.cli import main
from freezeviz.data.baseline import FateChange, FateChanges, fates_document, gh_escape, to_json

from .test_cli import REPO, assert_error, run_all

JUNIT_XSD = Path(__file__).resolve().parent / "data" / "junit.xsd"
SCHEMA = REPO / "freezeviz" / "schemas" / "fates-1.schema.json"


# --- four versions of one model ----------------------------------------------------------------

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.lin = nn.Linear(4, 2)
        self.register_buffer("calls", torch.zeros(()))
        self.register_buffer("extra", torch.ones(2))

    def forward(self, x):
        y = self.bn(self.conv(x)).mean((2, 3))
        return self.lin(y) + self.calls


class WritesCalls(Net):
    """The next version counts its calls: the buffer is written in forward."""

    def forward(self, x):
        self.calls.add_(1)
        y = self.bn(self.conv(x)).mean((2, 3))
        return self.lin(y) + self.calls


class ExportsScale(Net):
    """The next version has an exported method that reads a weight nothing read before."""

    @torch.jit.export
    def scale(self):
        return self.extra * 2


class ReluBeforeBN(Net):
    """The next version puts a ReLU between the conv and the BatchNorm: no more folding."""

    def forward(self, x):
        y = self.bn(F.relu(self.conv(x))).mean((2, 3))
        return self.lin(y) + self.calls


def net() -> nn.Module:
    return Net()


def writes_calls() -> nn.Module:
    return WritesCalls()


def exports_scale() -> nn.Module:
    return ExportsScale()


def relu_before_bn() -> nn.Module:
    return ReluBeforeBN()


def torch_frozen(module: nn.Module, preserved=()) -> torch.jit.ScriptModule:
    """The ground truth: what torch.jit.freeze itself returns."""
    return torch.jit.freeze(torch.jit.script(module.eval()), preserved_attrs=list(preserved))


def cli(capsys, *args) -> tuple[int, str, str]:
    """``freezeviz ARGS`` in this process (the factories are this module's): (exit, out, err)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def baseline(tmp_path, capsys) -> Path:
    path = tmp_path / "fates.json"
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline", path, "--update")
    assert code == 0, err
    assert "created" in out
    return path


def rows(out: str) -> dict[str, list[str]]:
    """Table rows of ``check``'s output: attribute -> [was, now]."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith("self."):
            found[parts[0]] = parts[1:3]
    return found


# --- check -------------------------------------------------------------------------------------

def test_unchanged_model_passes(baseline, capsys):
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline", baseline)
    assert code == 0, (out, err)
    assert "No attribute changed fate (20 compared)." in out
    data = json.loads(baseline.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["backend"] == "torchscript"
    frozen = torch_frozen(Net())
    kept = {a["path"] for a in data["attributes"] if a["fate"] in ("preserved_mutated",
                                                                      "preserved_requested")}
    assert kept == set() and not hasattr(frozen, "calls")


def test_buffer_newly_written_in_forward_fails(baseline, capsys):
    code, out, err = cli(capsys, "check", "tests.test_check:writes_calls", "--baseline", baseline)
    assert code == 1, (out, err)
    assert rows(out) == {"self.calls": ["inlined", "preserved_mutated"]}
    assert "1 of 20 attributes changed fate:" in out
    assert "writes it in place (aten::add_)" in out  # the new why
    assert "--update" in out
    # ground truth: torch keeps the buffer on the frozen module only in the new version
    assert hasattr(torch_frozen(WritesCalls()), "calls")
    assert not hasattr(torch_frozen(Net()), "calls")


def test_new_exported_method_reading_a_weight(baseline, capsys):
    code, out, err = cli(capsys, "check", "tests.test_check:exports_scale", "--baseline", baseline,
                         "--preserve", "scale")
    assert code == 1, (out, err)
    assert rows(out) == {"self.extra": ["removed_unused", "inlined"]}
    assert "scale() only reads it" in out
    assert "Note: preserved_attrs was [], now ['scale']" in out
    # ground truth: the kept method computes from the inlined value, no attribute is left
    frozen = torch_frozen(ExportsScale(), ["scale"])
    assert not hasattr(frozen, "extra")
    assert "prim::GetAttr" not in str(frozen.scale.graph)
    assert torch.equal(frozen.scale(), torch.full((2,), 2.0))


def test_batchnorm_that_stops_folding(baseline, capsys):
    code, out, err = cli(capsys, "check", "tests.test_check:relu_before_bn", "--baseline", baseline)
    assert code == 1, (out, err)
    bn = {f"self.bn.{n}": ["folded", "inlined"] for n in ("weight", "bias", "running_mean",
                                                          "running_var")}
    assert rows(out) == bn
    # ground truth: torch's frozen graph still has the batch norm only in the new version
    assert "aten::batch_norm" in str(torch_frozen(ReluBeforeBN()).graph)
    assert "aten::batch_norm" not in str(torch_frozen(Net()).graph)


def test_update_rewrites_the_baseline_and_keeps_allow(baseline, capsys):
    data = json.loads(baseline.read_text(encoding="utf-8"))
    data["allow"] = {"lin.*": ["inlined", "folded"]}
    baseline.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = cli(capsys, "check", "tests.test_check:writes_calls", "--baseline", baseline,
                         "--update")
    assert code == 0, err
    assert "1 fate(s) changed" in out and "self.calls" in out
    new = json.loads(baseline.read_text(encoding="utf-8"))
    assert new["allow"] == {"lin.*": ["inlined", "folded"]}
    assert {a["path"]: a["fate"] for a in new["attributes"]}["calls"] == "preserved_mutated"
    code, out, err = cli(capsys, "check", "tests.test_check:writes_calls", "--baseline", baseline)
    assert code == 0, out


def test_update_creates_and_refuses(tmp_path, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}', encoding="utf-8")
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline", notes, "--update")
    assert code == 2 and 'no "format" key' in err and "--update replaces only a fates file" in err
    assert notes.read_text(encoding="utf-8") == '{"mine": true}'
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline",
                         tmp_path / "no" / "fates.json", "--update")
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "no").exists()


def test_allow_list_accepts_known_changes(baseline, capsys):
    code, out, err = cli(capsys, "check", "tests.test_check:writes_calls", "--baseline", baseline,
                         "--allow", "calls=preserved_mutated")
    assert code == 0, (out, err)
    assert "Accepted by the allow list (1):" in out and "self.calls" in out
    # an allowance for another fate accepts nothing
    code, out, err = cli(capsys, "check", "tests.test_check:writes_calls", "--baseline", baseline,
                         "--allow", "calls=inlined")
    assert code == 1
    # the baseline's own "allow", with a pattern
    data = json.loads(baseline.read_text(encoding="utf-8"))
    data["allow"] = {"bn.*": "inlined"}
    baseline.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = cli(capsys, "check", "tests.test_check:relu_before_bn", "--baseline", baseline)
    assert code == 0, out
    assert "Accepted by the allow list (4):" in out


BAD_BASELINES = {
    "not json": ("{not json", "is not valid JSON (line 1, column 2"),
    "a list": ("[1, 2]", "is not a freezeviz fates document"),
    "no format": ('{"attributes": []}', 'has no "format" key'),
    "newer format": ('{"format": 2, "attributes": []}', "a newer freezeviz wrote it"),
    "unknown format": ('{"format": "1", "attributes": []}', "is not a format freezeviz knows"),
    "no attributes": ('{"format": 1}', 'has no "attributes" list'),
    "bad fate": ('{"format": 1, "attributes": [{"path": "w", "fate": "gone"}]}',
                 "attributes[0] (w) has fate 'gone'"),
    "twice": ('{"format": 1, "attributes": [{"path": "w", "fate": "inlined"}, '
              '{"path": "w", "fate": "folded"}]}', "is listed twice"),
    "bad allow": ('{"format": 1, "attributes": [], "allow": {"w": "kept"}}',
                  "'kept' (for w) is not a fate"),
    "other backend": ('{"format": 1, "backend": "tensorrt", "attributes": []}',
                      "made with backend 'tensorrt'"),
}


@pytest.mark.parametrize("name", list(BAD_BASELINES))
def test_malformed_baselines_exit_2(name, tmp_path, capsys):
    text, needle = BAD_BASELINES[name]
    path = tmp_path / "fates.json"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline", path)
    assert code == 2, (out, err)
    assert needle in err, err
    assert "freezeviz: error:" in err and "Traceback" not in err
    assert "freezing" not in err  # refused before the slow work


def test_usage_errors_of_check_exit_2(tmp_path, baseline):
    model = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(Net().eval()), str(model))
    procs = run_all(("check", model, "--baseline", tmp_path / "missing.json"),
                    ("check", model, "--baseline", baseline, "--backend", "inductor"),
                    ("check", model, "--baseline", baseline, "--allow", "calls"),
                    ("check", model, "--baseline", baseline, "--allow", "calls=kept"),
                    ("check", model),
                    ("check", model, "--baseline", model))
    assert_error(procs[0], 2, "there is no baseline file", "--update")
    assert_error(procs[1], 2, "--backend inductor needs --inputs")
    assert_error(procs[2], 2, "is not PATH=FATE")
    assert_error(procs[3], 2, "'kept' (for calls) is not a fate")
    assert_error(procs[4], 2, "--baseline")
    assert_error(procs[5], 2, "is the model file itself")


# --- machine-readable outputs -------------------------------------------------------------------

_COMMAND_RE = re.compile(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$")


def _gh_unescape(text: str) -> str:
    return (text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":")
            .replace("%2C", ",").replace("%25", "%"))


def parse_annotation(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner reads it: properties split at ',' and '='."""
    m = _COMMAND_RE.match(line)
    assert m, line
    props = {}
    for item in (m.group(2) or "").split(","):
        key, _, value = item.partition("=")
        assert re.fullmatch(r"[a-z]+", key) and "::" not in value, item
        props[key] = _gh_unescape(value)
    return m.group(1), props, _gh_unescape(m.group(3))


def test_github_escaping_rules():
    text = "50% a:b, c\r\nd"
    assert gh_escape(text) == "50%25 a:b, c%0D%0Ad"
    assert gh_escape(text, prop=True) == "50%25 a%3Ab%2C c%0D%0Ad"
    change = FateChange("blocks.a,b:c", "inlined", None, "100% gone\nnext line", "buffer")
    line = FateChanges([change], pairs=[("blocks.a,b:c", "inlined", None)]).github(
        file="dir,1/fates:x.json", lines={"blocks.a,b:c": 7})
    assert "\n" not in line
    level, props, message = parse_annotation(line)
    assert level == "error"
    assert props == {"file": "dir,1/fates:x.json", "line": "7",
                     "title": "fate changed: self.blocks.a,b:c"}
    assert message == "self.blocks.a,b:c: inlined -> absent. 100% gone\nnext line"


def test_github_format(baseline, capsys, monkeypatch):
    monkeypatch.chdir(baseline.parent)
    code, out, err = cli(capsys, "check", "tests.test_check:exports_scale", "--baseline",
                         baseline, "--preserve", "scale", "--format", "github")
    assert code == 1
    commands = [parse_annotation(line) for line in out.splitlines() if line.startswith("::")]
    errors = [c for c in commands if c[0] == "error"]
    assert len(errors) == 1
    _, props, message = errors[0]
    assert props["file"] == "fates.json"  # relative to the workspace (here: the folder)
    line = baseline.read_text(encoding="utf-8").splitlines()[int(props["line"]) - 1]
    assert line.strip() == '"path": "extra",'
    assert props["title"] == "fate changed: self.extra"
    assert message.startswith("self.extra: removed_unused -> inlined. scale() only reads it")
    warnings = [c for c in commands if c[0] == "warning"]
    assert [m for _, _, m in warnings] == ["preserved_attrs was [], now ['scale']"]
    assert "1 of 20 attributes changed fate:" in out  # the table follows for people


def test_junit_report_is_valid(baseline, tmp_path, capsys):
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    out_file = tmp_path / "fates.xml"
    code, out, err = cli(capsys, "check", "tests.test_check:writes_calls", "--baseline", baseline,
                         "--junit", out_file)
    assert code == 1
    schema.validate(str(out_file))
    data = schema.to_dict(str(out_file))
    suite = data["testsuite"][0]
    assert (suite["@tests"], suite["@failures"], suite["@errors"]) == (20, 1, 0)
    failed = [c for c in suite["testcase"] if "failure" in c]
    assert [c["@name"] for c in failed] == ["self.calls"]
    assert failed[0]["failure"][0]["@message"] == "inlined -> preserved_mutated"
    # a second run replaces its own report; a file that is not one is refused
    code, *_ = cli(capsys, "check", "tests.test_check:net", "--baseline", baseline, "--junit",
                   out_file)
    assert code == 0
    assert schema.to_dict(str(out_file))["testsuite"][0]["@failures"] == 0
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline", baseline,
                         "--junit", baseline)
    assert code == 2 and "is the baseline itself" in err
    other = tmp_path / "other.xml"
    other.write_text("<results/>", encoding="utf-8")
    code, out, err = cli(capsys, "check", "tests.test_check:net", "--baseline", baseline,
                         "--junit", other)
    assert code == 2 and "not a JUnit report written by freezeviz" in err
    assert other.read_text(encoding="utf-8") == "<results/>"


def test_junit_survives_control_characters():
    xmlschema = pytest.importorskip("xmlschema")
    change = FateChange("a\x01b", "inlined", "folded", "why \x00 <&> \ud800", "buffer")
    text = FateChanges([change], pairs=[("a\x01b", "inlined", "folded"), ("c", "inlined", "inlined")],
                       module="m.pt").junit()
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(text)
    assert "<&>" not in text and "&lt;&amp;&gt;" in text


# --- the format ------------------------------------------------------------------------------------

def test_documents_follow_the_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    report = freezeviz.freeze(ExportsScale(), ["scale"], example_inputs=torch.randn(1, 3, 6, 6))
    doc = json.loads(to_json(fates_document(report)))
    jsonschema.validate(doc, schema)
    paths = [a["path"] for a in doc["attributes"]]
    assert paths == sorted(paths)
    assert [m["name"] for m in doc["methods"]] == ["forward", "scale"]
    doc["allow"] = {"lin.*": ["inlined", "absent"]}
    jsonschema.validate(doc, schema)
    for bad in ({"format": 2}, {"attributes": [{"path": "w", "fate": "gone"}]},
                {"stages": []}, {"allow": {"w": "kept"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**doc, **bad}, schema)


@pytest.mark.slow
def test_check_with_the_inductor_backend(tmp_path, capsys):
    """A baseline of Inductor's fates says so, and checks against Inductor's freeze; against
    TorchScript's the differing setting is named."""
    path = tmp_path / "fates.json"
    args = ("check", "tests.test_check:net", "--baseline", path, "--inputs", "1x3x6x6")
    code, out, err = cli(capsys, *args, "--backend", "inductor", "--update")
    assert code == 0, (out, err)
    data = json.loads(path.read_text())
    assert data["backend"] == "inductor"
    code, out, err = cli(capsys, *args, "--backend", "inductor")
    assert code == 0, (out, err)
    code, out, err = cli(capsys, *args)
    assert "backend" in out + err, (out, err)
