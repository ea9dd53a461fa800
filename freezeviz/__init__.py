"""freezeviz: see what ``torch.jit.freeze`` does to your model.

>>> import freezeviz                                    # doctest: +SKIP
>>> report = freezeviz.freeze(model, preserved_attrs=["version"])   # doctest: +SKIP
>>> print(report.explain("modified_tensor"))            # doctest: +SKIP
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
    "freeze",
    "inspect",
]
__version__ = "0.1.0"


def freeze(module, preserved_attrs=None, optimize_numerics=True, *, example_inputs=None,
           optimize_for_inference=False) -> FreezeReport:
    """Freeze ``module`` exactly as ``torch.jit.freeze`` does and report every stage.

    Takes the same arguments as ``torch.jit.freeze``; see :func:`freezeviz.engine.torchscript.run.freeze`."""
    from freezeviz.engine.torchscript.run import freeze as _freeze

    return _freeze(module, preserved_attrs, optimize_numerics, example_inputs=example_inputs,
                   optimize_for_inference=optimize_for_inference)


def compare(a, b, *, allow=None):
    """The attributes whose fate changed from ``a`` (the baseline) to ``b``: a list of changes,
    falsy when none did, printed as a table. ``assert not freezeviz.compare(base, report)``.

    Each side is a FreezeReport, a fates document (``freezeviz attrs --json``, loaded) or the
    path of a fates file; see :func:`freezeviz.data.baseline.compare`."""
    from freezeviz.data.baseline import compare as _compare

    return _compare(a, b, allow=allow)


def inspect(module, preserved_attrs=None, optimize_numerics=True, *, example_inputs=None):
    """Open the interactive inspector (a Jupyter widget) on ``module``."""
    from freezeviz.widgets.inspector import FreezeInspector

    return FreezeInspector(module, preserved_attrs, optimize_numerics,
                           example_inputs=example_inputs)
