"""The only part of freezeviz that imports torch: it runs a freezer and returns plain data.

``torchscript/`` runs ``torch.jit.freeze`` stage by stage; ``cache`` keys results on content.
"""
