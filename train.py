"""Train one model on MNIST-1D: `python train.py model=tcn trainer.max_steps=10000` (Hydra overrides)."""

import hydra
from omegaconf import DictConfig

from mnist1d.training.run import run_job


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return run_job(cfg)


if __name__ == "__main__":
    main()
