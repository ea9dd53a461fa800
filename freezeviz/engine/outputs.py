"""Comparing a model's outputs: each freezer's numerics measure every stage's outputs against
the model's with the same rules (NaN and infinity shown as such)."""

from __future__ import annotations

import math

import torch


def flat_tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in flat_tensors(o)]
    return []


def _worst(a: float, b: float) -> float:
    """The larger of two differences, NaN winning (``max`` would drop a NaN)."""
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def compare(out, ref) -> tuple[float, float]:
    """Largest absolute and relative difference of ``out`` from ``ref``.

    Where both are NaN, or both the same infinity, they agree; elsewhere a NaN makes the
    difference NaN and an infinity makes it infinite: a non-finite change never shows as 0."""
    a, b = flat_tensors(out), flat_tensors(ref)
    if len(a) != len(b):
        return math.inf, math.inf
    max_abs = max_rel = 0.0
    for x, y in zip(a, b):
        d_abs, d_rel = _compare_tensor(x, y)
        max_abs, max_rel = _worst(max_abs, d_abs), _worst(max_rel, d_rel)
    return max_abs, max_rel


def _compare_tensor(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    if x.is_mkldnn:
        x = x.to_dense()
    if x.shape != y.shape or not (x.is_floating_point() or x.is_complex()):
        d = 0.0 if x.shape == y.shape and torch.equal(x.to(y.dtype), y) else math.inf
        return d, d
    if not x.numel():
        return 0.0, 0.0
    wide = torch.complex128 if x.is_complex() or y.is_complex() else torch.float64
    x, y = x.detach().to(wide), y.detach().to(wide)
    agree = (x == y) | (x.isnan() & y.isnan())  # == holds for equal infinities
    diff = torch.where(agree, torch.zeros((), dtype=torch.float64), (x - y).abs())
    d = math.nan if bool(diff.isnan().any()) else diff.max().item()
    finite = y[y.isfinite()].abs()
    scale = finite.max().item() if finite.numel() else 0.0
    return d, (d / scale if scale > 0 else (0.0 if d == 0 else d if math.isnan(d) else math.inf))
