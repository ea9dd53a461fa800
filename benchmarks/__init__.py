"""freezeviz benchmarks: the public model set (models.py) and `make bench` (run.py)."""
