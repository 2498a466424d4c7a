"""Evaluate a trained run: `python eval.py <overrides>` (options: conf/train/eval.yaml).

The same command as `mnist1d-eval` (mnist1d/cli.py), which an installed package runs from any directory.
"""

from mnist1d.cli import evaluate

if __name__ == "__main__":
    evaluate()
