"""The frozen-graph optimization passes, in the order torch runs them: one source of truth.

``torch._C._jit_pass_optimize_frozen_graph`` (frozen_graph_optimizations.cpp) runs
removeDropout, FrozenConcatLinear, then, only when ``optimize_numerics``, repeats
FoldFrozenConvBatchnorm, FoldFrozenConvAddOrSub, FoldFrozenConvMulOrDiv and
FoldFrozenLinearBatchnorm until none of them changes the graph.
``torch._C._jit_pass_optimize_for_inference`` runs FuseFrozenConvAddRelu,
ConvertFrozenOpsToMKLDNN and FrozenLinearTranspose.

The engine runs them one at a time to observe each, and checks on every run that it ends
exactly where torch's fused pass ends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrozenPass:
    name: str  # stage name
    torch_name: str  # attribute of torch._C
    description: str
    takes_module: bool = False  # _jit_pass_remove_dropout takes the module, not a graph
    # For passes that replace a constant by a new one made from it: what the new one is
    # ("its transpose"), so an attribute's story can say its value lives on, rewritten.
    rewrite: str = ""


REMOVE_DROPOUT = FrozenPass(
    "remove_dropout", "_jit_pass_remove_dropout",
    "Removes dropout calls whose `train` flag is the constant False.", takes_module=True)
CONCAT_LINEAR = FrozenPass(
    "concat_frozen_linear", "_jit_pass_concat_frozen_linear",
    "Concatenates Linear layers that share an input into one matmul (only for weights on "
    "CUDA, so on CPU it leaves the graph alone).")
NUMERICS_LOOP = (
    FrozenPass("fold_conv_bn", "_jit_pass_fold_frozen_conv_bn",
               "Folds a BatchNorm that follows a convolution into the convolution's weight and "
               "bias (and, like each fold pass, removes ops whose results are no longer used)."),
    FrozenPass("fold_conv_add_or_sub", "_jit_pass_fold_frozen_conv_add_or_sub",
               "Folds adding or subtracting a constant after a convolution into its bias."),
    FrozenPass("fold_conv_mul_or_div", "_jit_pass_fold_frozen_conv_mul_or_div",
               "Folds multiplying or dividing by a constant after a convolution into its weight "
               "and bias."),
    FrozenPass("fold_linear_bn", "_jit_pass_fold_frozen_linear_bn",
               "Folds a BatchNorm that follows a Linear layer into its weight and bias."),
)
OPTIMIZE_FOR_INFERENCE = (
    FrozenPass("fuse_conv_add_relu", "_jit_pass_fuse_frozen_conv_add_relu",
               "Fuses conv + add + relu into one cuDNN op (CUDA only; no change on CPU)."),
    FrozenPass("convert_to_mkldnn", "_jit_pass_convert_frozen_ops_to_mkldnn",
               "Moves runs of constant-weight convolutions and their neighbours to MKLDNN "
               "tensors: each weight and bias constant is replaced by an MKLDNN copy named "
               "after it (`self.conv.weight_mkldnn`).",
               rewrite="an MKLDNN copy of it"),
    FrozenPass("transpose_frozen_linear", "_jit_pass_transpose_frozen_linear",
               "Pre-transposes Linear weights: linear(x, W, b) becomes matmul(x, Wt) + b, with "
               "Wt a new constant. It runs no dead-code elimination, so the original weight "
               "constant stays in the graph, unused.",
               rewrite="its transpose, which a matmul now reads"),
)
REWRITES = {p.name: p.rewrite for p in OPTIMIZE_FOR_INFERENCE if p.rewrite}

# The loop of numerics passes ends after a full round that changed nothing; a runaway guard.
MAX_NUMERICS_ROUNDS = 20

STAGE_DESCRIPTIONS = {
    "scripted": "The module as TorchScript compiled it: submodule calls are prim::CallMethod.",
    "inlined": "Every method call inlined: the graph the freezer analyses.",
    "frozen": "After torch._C._freeze_module: attributes inlined as constants, unused state "
              "removed, then the freezer's own clean-up (constant propagation, CSE, DCE).",
    "optimize_frozen_graph": "torch's fused frozen-graph optimization pass, run as one step.",
    "optimize_for_inference": "torch's fused optimize_for_inference pass, run as one step.",
}
for _p in (REMOVE_DROPOUT, CONCAT_LINEAR, *NUMERICS_LOOP, *OPTIMIZE_FOR_INFERENCE):
    STAGE_DESCRIPTIONS[_p.name] = _p.description
