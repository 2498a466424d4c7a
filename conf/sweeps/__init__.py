"""sweep.py: sweep.yaml and the sweep kinds (sweep/<kind>.yaml)."""
