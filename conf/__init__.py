"""The Hydra configs, shipped inside the package as `mnist1d.conf`: one tree per entry point (train/ for
train.py and eval.py, sweeps/ for sweep.py, apps/ for the standalone apps), so each command's --help lists
only the groups it can use."""
