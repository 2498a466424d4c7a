"""A stack killed outright (SIGKILL) in `train.py -m hydra/launcher=stacked`, then resumed as `sweep.py
resume=` resumes it: every member ends as in an uninterrupted stack."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ON_CPU, ROOT, read_results

STACK = ["-m", "model=mlp", "seed=0,1,2", "hydra/launcher=stacked", "trainer.max_steps=400", "eval_every=20"]
STACK += ["chunk_steps=10", "logger=csv", ON_CPU, "num_threads=1"]
RUNS = [f"{seed}_mlp-400steps-seed{seed}" for seed in (0, 1, 2)]


def multirun(sweep_dir: Path, cache_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "train.py",
        *STACK,
        f"paths.cache_dir={cache_dir}",
        f"hydra.sweep.dir={sweep_dir}",
        *extra,
    ]


@pytest.mark.slow  # three multirun processes: about a minute
def test_a_killed_stack_resumes_to_the_metrics_of_an_uninterrupted_one(tmp_path, cache_dir):
    subprocess.run(
        multirun(tmp_path / "full", cache_dir), cwd=ROOT, check=True, capture_output=True, timeout=900
    )
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        multirun(killed, cache_dir), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    log = killed / RUNS[0] / "train.log"
    deadline = time.monotonic() + 600
    while not (log.exists() and "step 100/400" in log.read_text()) and time.monotonic() < deadline:
        assert process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not any((killed / run / "results.json").exists() for run in RUNS)  # a killed run writes nothing
    resumed = subprocess.run(
        multirun(killed, cache_dir, "skip_completed=true"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming the stack from" in resumed.stdout + resumed.stderr
    for run in RUNS:
        full, again = read_results(tmp_path / "full" / run), read_results(killed / run)
        assert again["status"] == "ok" and again["history"] == full["history"]
        assert again["confusion_matrix"] == full["confusion_matrix"]
