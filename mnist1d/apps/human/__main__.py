"""`python -m mnist1d.apps.human [name=...] [n_questions=100] [seed=0]`, `... resume=<results dir>`, or
`... compare=<results dir> runs=<run or sweep dir>` (see conf/apps/human.yaml).

Bad settings end with one line naming the field (exit status 1), never a traceback, as in every command.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from mnist1d.apps.human.app import run
from mnist1d.config.compose import APPS_CONF, config_path
from mnist1d.errors import reported_as_message


@hydra.main(config_path=config_path(APPS_CONF), config_name="human", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported_as_message(ValueError):  # HumanInputError, and the dataset arguments' own checks
        written = run(cfg)
    for path in written or []:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
