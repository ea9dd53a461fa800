"""The Inductor backend: torch.compile's freezing (``torch._inductor.config.freezing``),
observed pass by pass.

backend.py   InductorBackend: the request checked, the report built
run.py       the recorded torch.compile of a private copy of the model (Dynamo backend around
             compile_fx; inner_compile stops before code generation unless asked)
hooks.py     the private torch functions wrapped, the version guard, the undo of every wrapper
observe.py   the wrappers: one stage per freezing pass
recorder.py  stages, runnable copies of each stage's graph, what the run taught
extract.py   FX graph -> GraphSnapshot;  lineage.py  frozen constant -> attribute paths
fates.py     each parameter and buffer's fate;  numerics.py  each stage run on the inputs
errors.py    graph breaks and compile failures as FreezeError
"""
