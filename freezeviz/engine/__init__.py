"""The only part of freezeviz that imports torch: it runs a freezer and returns plain data.

``api.freeze`` picks a backend by name (``backend``: the interface and the registry) and keeps
reports by content (``cache``); ``torchscript/`` is the backend that runs ``torch.jit.freeze``
stage by stage.
"""
