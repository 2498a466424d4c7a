"""A grid of training runs as one Hydra multirun of train.py: what `sweep.py` runs, and its summary."""
