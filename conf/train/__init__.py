"""train.py and eval.py: train.yaml, eval.yaml and their config groups."""
