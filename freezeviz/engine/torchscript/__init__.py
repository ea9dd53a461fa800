"""The TorchScript backend: runs torch.jit.freeze stage by stage and reads its decisions."""
