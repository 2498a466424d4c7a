"""`python -m mnist1d.apps.human [name=...] [n_questions=100] [seed=0]`, `... resume=<results dir>`, or
`... compare=<results dir> runs=<run or sweep dir>` (see conf/apps/human.yaml).

Bad settings end with one line naming the field (exit status 2), never a traceback.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from mnist1d.apps.human.app import run
from mnist1d.config.compose import APPS_CONF, config_path


@hydra.main(config_path=config_path(APPS_CONF), config_name="human", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        written = run(cfg)
    except ValueError as bad:  # HumanInputError, and the dataset arguments' own checks
        print(f"error: {bad}", file=sys.stderr)
        sys.exit(2)
    for path in written or []:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
