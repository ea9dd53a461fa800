"""freezeviz: see what ``torch.jit.freeze`` does to your model.

The second example of torch.jit.freeze's documentation: forward writes ``modified_tensor`` and
``version`` is kept by name.

>>> import freezeviz
>>> from freezeviz.examples import MyModule2
>>> report = freezeviz.freeze(MyModule2().eval(), preserved_attrs=["version"])
>>> report
<FreezeReport MyModule2: 3 attributes (1 removed: unused, 1 kept: written, 1 kept: you asked);
 stages that changed the graph: none>
>>> print(report.explain("modified_tensor"))
self.modified_tensor (attribute, Tensor): kept: written [preserved_mutated]
<BLANKLINE>
forward() writes it in place (aten::add_) at examples.py:..., so the freezer keeps it as module
state: a constant could not change between calls.
...
>>> report.frozen_module.version    # the real torch.jit.freeze result
1
"""

from __future__ import annotations

from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo, Evidence, FreezeReport
from freezeviz.data.snapshot import GraphSnapshot, NodeInfo, Stage
from freezeviz.errors import FreezeError

__all__ = [
    "AttributeInfo",
    "Evidence",
    "Fate",
    "FreezeError",
    "FreezeReport",
    "GraphSnapshot",
    "NodeInfo",
    "Stage",
    "compare",
    "compare_freezers",
    "freeze",
    "inspect",
]
__version__ = "0.1.0"


def freeze(module, preserved_attrs=None, optimize_numerics=True, *, example_inputs=None,
           example_kwarg_inputs=None, optimize_for_inference=False,
           backend="torchscript") -> FreezeReport:
    """Freeze ``module`` exactly as ``torch.jit.freeze`` does and report every stage.

    Takes the same arguments as ``torch.jit.freeze``; ``backend`` names the freezer observed
    (``"torchscript"``, ``"inductor"``) or is a backend object. See
    :func:`freezeviz.engine.api.freeze`."""
    from freezeviz.engine.api import freeze as _freeze

    return _freeze(module, preserved_attrs, optimize_numerics, example_inputs=example_inputs,
                   example_kwarg_inputs=example_kwarg_inputs,
                   optimize_for_inference=optimize_for_inference, backend=backend)


def compare(a, b, *, allow=None):
    """The attributes whose fate changed from ``a`` (the baseline) to ``b``: a list of changes,
    falsy when none did, printed as a table. ``assert not freezeviz.compare(base, report)``.

    Each side is a FreezeReport, a fates document (``freezeviz attrs --json``, loaded) or the
    path of a fates file; see :func:`freezeviz.data.baseline.compare`."""
    from freezeviz.data.baseline import compare as _compare

    return _compare(a, b, allow=allow)


def compare_freezers(model, example_inputs=None, **kw):
    """TorchScript's and Inductor's freezing of ``model``, attribute by attribute: a
    :class:`~freezeviz.data.sidebyside.FreezerComparison` (``.differences()``, ``.table()``;
    a table in a notebook). Keyword arguments go to both freezes (``freezeviz.freeze``)."""
    from freezeviz.data.sidebyside import compare_freezers as _compare_freezers

    return _compare_freezers(freeze, model, example_inputs, **kw)


def inspect(module, preserved_attrs=None, optimize_numerics=True, *, example_inputs=None,
            example_kwarg_inputs=None, backend="torchscript"):
    """Open the interactive inspector (a Jupyter widget) on ``module``; the arguments are
    those of :func:`freeze`."""
    from freezeviz.widgets.inspector import FreezeInspector

    return FreezeInspector(module, preserved_attrs, optimize_numerics,
                           example_inputs=example_inputs,
                           example_kwarg_inputs=example_kwarg_inputs, backend=backend)
