"""freezeviz never changes what it is given: the module, its state, the example inputs, and
the process's stderr and JIT logging option, even when interrupted."""

from __future__ import annotations

import os
import signal

import pytest
import torch
import torch.nn as nn

import freezeviz
from freezeviz.engine.torchscript import jitlog


class Counted(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnt = 0

    def forward(self, x):
        self.cnt += 1
        return x + 1


class ForkAndList(nn.Module):
    """Writes state where it is easy to miss: inside a forked call, and in a list element."""

    def __init__(self):
        super().__init__()
        self.sub = Counted()
        self.ts = [torch.ones(2), torch.ones(2)]

    def forward(self, x):
        y = torch.jit.wait(torch.jit.fork(self.sub, x))
        self.ts[0].add_(10)
        return y + self.ts[0]


class ListWrite(nn.Module):
    """torch's freezer folds ``ts`` into a constant that holds the module's own tensors."""

    def __init__(self):
        super().__init__()
        self.ts = [torch.ones(2), torch.ones(2)]

    def forward(self, x):
        self.ts[0].add_(10)
        return x + self.ts[0]


class WritesInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.full((3,), 2.0))

    def forward(self, x):
        x.add_(1)
        return x * self.w


def _state(mod) -> dict:
    """Every attribute value of every module, tensors cloned."""
    if isinstance(mod, torch.jit.ScriptModule):
        items = {}

        def walk(c, prefix):
            for name, v in torch._C._jit_debug_module_iterators(c)["named_attributes"]:
                if isinstance(v, torch._C.ScriptModule):
                    walk(v, prefix + name + ".")
                else:
                    items[prefix + name] = _clone(v)

        walk(mod._c, "")
        return items
    return {f"{n}.{k}": _clone(v) for n, m in mod.named_modules() for k, v in vars(m).items()
            if k in ("cnt", "ts", "training", "_parameters", "_buffers")}


def _clone(v):
    if isinstance(v, torch.Tensor):
        return v.detach().clone()
    if isinstance(v, (list, tuple)):
        return type(v)(_clone(x) for x in v)
    if isinstance(v, dict):
        return {k: _clone(x) for k, x in v.items()}
    return v


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("as_script", [False, True], ids=["nn.Module", "ScriptModule"])
def test_numerics_never_run_on_the_users_module(as_script):
    m = ForkAndList().eval()
    arg = torch.jit.script(m) if as_script else m
    before = _state(arg)
    assert before  # the walk saw the state it compares
    freezeviz.freeze(arg, example_inputs=(torch.zeros(2),))
    after = _state(arg)
    assert before.keys() == after.keys()
    changed = [k for k in before if not _equal(before[k], after[k])]
    assert not changed
    assert arg.sub.cnt == 0 and torch.equal(arg.ts[0], torch.ones(2))


def test_frozen_stages_run_on_their_own_constants():
    m = ListWrite().eval()
    x = torch.zeros(2)
    report = freezeviz.freeze(m, example_inputs=(x,))
    assert [t.tolist() for t in m.ts] == [[1.0, 1.0], [1.0, 1.0]]
    # the frozen module handed back is as torch makes it, not run before
    fresh = torch.jit.freeze(torch.jit.script(ListWrite().eval()))
    assert torch.equal(report.frozen_module(x), fresh(x))
    assert all(r.max_abs == 0.0 for r in report.numerics), report.numerics


def test_each_stage_runs_from_the_same_state():
    """Writes made by one run do not leak into the next run's numbers."""
    report = freezeviz.freeze(ForkAndList().eval(), example_inputs=(torch.zeros(2),))
    rows = {r.stage: r.max_abs for r in report.numerics}
    assert rows["scripted"] == 0.0 and rows["inlined"] == 0.0


def test_example_inputs_are_not_written():
    x = torch.arange(3.0)
    report = freezeviz.freeze(WritesInput().eval(), example_inputs=(x,))
    assert torch.equal(x, torch.arange(3.0))
    assert report.numerics and all(r.max_abs == 0.0 for r in report.numerics), report.numerics


# --- stderr and the JIT logging option, under interrupts -------------------------------------


def _fd2():
    st = os.fstat(2)
    return st.st_dev, st.st_ino


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def sigint_raises(monkeypatch):
    """Python's own SIGINT handler, which raises KeyboardInterrupt in the main thread."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_on_call(monkeypatch, owner, name, call_no: int, how: str):
    """Make ``owner.name`` do its work and then be interrupted, on its ``call_no``-th call:
    by a real SIGINT (``how="signal"``) or by raising KeyboardInterrupt (``how="raise"``)."""
    real = getattr(owner, name)
    calls = []

    def wrapper(*args):
        result = real(*args)
        calls.append(args)
        if len(calls) == call_no:
            if how == "signal":
                signal.raise_signal(signal.SIGINT)
            else:
                raise KeyboardInterrupt
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return calls


@pytest.mark.parametrize("where, call_no", [
    ("dup2", 1),  # just after stderr was pointed at the log file
    ("_jit_set_logging_option", 1),  # just after the log was switched on
    ("_jit_set_logging_option", 2),  # the first step of putting things back
    ("dup2", 2),  # the second step
])
@pytest.mark.parametrize("how", ["signal", "raise"])
def test_interrupted_capture_restores_stderr_and_logging(monkeypatch, sigint_raises, where,
                                                         call_no, how):
    torch._C._jit_set_logging_option("")
    fd2, fds = _fd2(), _open_fds()
    owner = os if where == "dup2" else torch._C
    with monkeypatch.context() as mp:
        calls = _interrupt_on_call(mp, owner, where, call_no, how)
        with pytest.raises(KeyboardInterrupt):
            with jitlog.capture_jit_log(">>freeze_module"):
                pass
        assert len(calls) >= call_no  # the interrupt happened where the test put it
    assert _fd2() == fd2
    assert _open_fds() == fds
    assert torch._C._jit_get_logging_option() == ""
    os.write(2, b"")


def test_interrupt_inside_the_block_restores_everything(sigint_raises):
    torch._C._jit_set_logging_option("")
    fd2, fds = _fd2(), _open_fds()
    with pytest.raises(KeyboardInterrupt):
        with jitlog.capture_jit_log(">>freeze_module"):
            raise KeyboardInterrupt
    assert _fd2() == fd2 and _open_fds() == fds
    assert torch._C._jit_get_logging_option() == ""
