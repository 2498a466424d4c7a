"""A real single-node SLURM cluster for the sweep tests that need one (tests/sweeps/test_slurm_jobs.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

CLUSTER_SCRIPT = ROOT / "scripts" / "slurm_cluster.sh"
CANNOT_RUN = 2  # the script's exit status when this machine cannot run a cluster (not root, no packages)


def cluster_processes(cluster: Path) -> list[int]:
    """The processes started with this cluster's slurm.conf in their environment: its daemons, their job
    processes, and anything a test started for the cluster (sweep.py)."""
    marker = f"SLURM_CONF={cluster / 'slurm.conf'}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Start the cluster of `scripts/slurm_cluster.sh` (as `make slurm` does), point SLURM_CONF at it, and
    stop it at the end of the session, checking that none of its processes is left. Skips, with the
    script's reason, where the machine cannot run one (not root; `slurm-wlm` and `munge` not installed)."""
    cluster = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(
        ["bash", CLUSTER_SCRIPT, "start", cluster], capture_output=True, text=True, timeout=120
    )
    if started.returncode == CANNOT_RUN:
        pytest.skip(f"no SLURM cluster on this machine: {started.stderr.strip()}")
    assert started.returncode == 0, started.stdout + started.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster / "slurm.conf")
    try:
        yield cluster
    finally:
        subprocess.run(["bash", CLUSTER_SCRIPT, "stop", cluster], check=True, timeout=120)
        if previous is None:
            del os.environ["SLURM_CONF"]
        else:
            os.environ["SLURM_CONF"] = previous
        assert not cluster_processes(cluster), "processes of the SLURM cluster are still running"
