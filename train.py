"""Train one model on MNIST-1D: `python train.py model=tcn trainer.max_steps=10000` (Hydra overrides).

The same command as `mnist1d-train` (mnist1d/cli.py), which an installed package runs from any directory.
"""

from mnist1d.cli import train

if __name__ == "__main__":
    train()
