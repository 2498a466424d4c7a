"""Standalone commands (`python -m mnist1d.apps.<name>`): dataset figures, metalearning, the benchmark."""
