"""Sweeps of train.py jobs and their report: `python sweep.py [sweep=<kind>] [key=value ...]`.

  python sweep.py                                   # the study: 7 models x 1000/2000/10000 steps x 3 seeds
  python sweep.py sweep=<kind> share_budgets=true   # another grid (conf/sweeps/sweep/<kind>.yaml)
  python sweep.py resume=outputs/sweeps/<dir>       # skip completed jobs, rerun missing or failed ones
  python sweep.py report=<dir>                      # (re)write the report of any sweep or `train.py -m` dir

Options: conf/sweeps/sweep.yaml; what runs: mnist1d/sweeps/launch.py. Installed: `mnist1d-sweep`.
"""

from mnist1d.cli import sweep

if __name__ == "__main__":
    sweep()
