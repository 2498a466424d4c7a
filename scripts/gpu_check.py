"""Every GPU check of the project, each stage timed, its results in `<out>/gpu_check.json` (rewritten after
each stage, so a cut-short run keeps what it did). Run through scripts/gpu_check.sh, which installs what the
machine lacks first.

    python scripts/gpu_check.py --out <dir> [stage ...]     (default stages: tests bench determinism study)

- tests: `pytest -m gpu` (tests/training/test_gpu.py: auto picks the GPU, CUDA graphs match eager, reruns
  are bit-identical, divergence, resume, the benchmark on the device);
- bench: `python -m mnist1d.apps.bench` on the default configuration (W&B offline): the plain eager loop, the
  framework with CUDA graphs and eagerly, every study model; its table and JSON;
- determinism: `python train.py model=cnn trainer.max_steps=1000` run twice as is, twice with
  `trainer.deterministic=true`, and twice with that and `cuda_graphs=false`: are reruns identical, and what
  determinism costs in steps/s;
- study: the seed-0 study, 7 jobs packed on the GPU (`launcher=joblib hydra.launcher.n_jobs=7`): wall time;
- study3: the whole 3-seed study, its 21 jobs at once (`hydra.launcher.n_jobs=21`): wall time;
- suite: `pytest -m "not slow"`, what `make test` runs.

Without a CUDA device it is a dry run: every stage small (the bench `--tiny`, 20 steps, a two-model grid of
250 steps), the GPU tests skipped, so that the script itself is tested on a CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("tests", "bench", "determinism", "study", "study3", "suite")
DEFAULT_STAGES = ("tests", "bench", "determinism", "study")
GPU = torch.cuda.is_available()


def command(args: list[str], timeout: float, log_file: Path) -> dict[str, Any]:
    """Run `args` from the repository root; its output goes to `log_file`, its tail into the result."""
    started = time.perf_counter()
    try:
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        returncode, output = "timeout", f"{expired.stdout or ''}{expired.stderr or ''}"
    log_file.write_text(output if isinstance(output, str) else output.decode(errors="replace"))
    result = {"command": " ".join(args), "returncode": returncode, "ok": returncode == 0}
    return result | {"seconds": time.perf_counter() - started, "output_tail": str(output)[-3000:]}


def stage_tests(out: Path) -> dict[str, Any]:
    args = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    return command(args, 540, out / "tests.log")


def stage_suite(out: Path) -> dict[str, Any]:
    args = [sys.executable, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider"]
    return command(args, 570, out / "suite.log")


def stage_bench(out: Path) -> dict[str, Any]:
    size = ["--steps", "1000", "--repeats", "3"] if GPU else ["--tiny", "--models", "mlp", "cnn"]
    args = [sys.executable, "-m", "mnist1d.apps.bench", *size, "--out", str(out / "bench.json")]
    result = command(args, 540, out / "bench.log")
    if (out / "bench.json").exists():
        result["report"] = json.loads((out / "bench.json").read_text())
    return result


def stage_determinism(out: Path) -> dict[str, Any]:
    """`python train.py` twice per variant, as a user reruns it (each run its own process, so CUDA starts
    with the run's settings): identical histories and confusion matrices? and steps/s of each."""
    steps = 1000 if GPU else 20
    base = ["model=cnn", f"trainer.max_steps={steps}", f"eval_every={250 if GPU else 10}", "logger=csv"]
    variants = {}
    for graphs, deterministic in (("auto", "false"), ("auto", "true"), ("false", "true")):
        name = f"cuda_graphs={graphs} trainer.deterministic={deterministic}"
        runs = []
        for rerun in (0, 1):
            run_dir = out / "determinism" / f"graphs_{graphs}-deterministic_{deterministic}-{rerun}"
            args = [sys.executable, "train.py", *base, f"cuda_graphs={graphs}"]
            args += [f"trainer.deterministic={deterministic}", f"hydra.run.dir={run_dir}"]
            command(args, 300, out / "determinism.log")
            runs.append(json.loads((run_dir / "results.json").read_text()))
        variants[name] = {
            "identical": runs[0]["history"] == runs[1]["history"]
            and runs[0]["confusion_matrix"] == runs[1]["confusion_matrix"],
            "steps_per_s": [run["steps_per_s"] for run in runs],
            "final_test_acc": [run["final_test_acc"] for run in runs],
            "cuda_graphs_used": [run["cuda_graphs"] for run in runs],
        }
    ok = all(v["identical"] for name, v in variants.items() if name.endswith("deterministic=true"))
    return {"ok": ok, "steps": steps, "variants": variants}


def stage_study(out: Path, seeds: str, jobs: int, name: str) -> dict[str, Any]:
    """A shared-budget study sweep with `jobs` parallel joblib jobs on the one device: wall time and rows."""
    sweep_dir = out / name
    args = [sys.executable, "sweep.py", f"dir={sweep_dir}", "share_budgets=true", "launcher=joblib"]
    args += [f"hydra.launcher.n_jobs={jobs}", "logger=csv", "wandb_report=false"]
    args += [f"seed={seeds}"] if GPU else ["seed=0", "model=logistic,mlp", "trainer.max_steps=250"]
    result = command(args, 560, out / f"{name}.log")
    summary = sweep_dir / "summary.csv"
    if summary.exists():
        with summary.open() as file:
            rows = list(csv.DictReader(file))
        result["rows"] = len(rows)
        result["rows_ok"] = sum(row["status"] == "ok" for row in rows)
    timing = sweep_dir / "timing.json"
    if timing.exists():
        result["timing"] = json.loads(timing.read_text())
    return result


def environment() -> dict[str, Any]:
    import pytorch_lightning

    info: dict[str, Any] = {"torch": torch.__version__, "pytorch_lightning": pytorch_lightning.__version__}
    info |= {"python": sys.version.split()[0], "cuda": GPU, "cpu_count": os.cpu_count()}
    if GPU:
        info["device_name"] = torch.cuda.get_device_name(0)
        smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True, check=False)
        info["nvidia_smi"] = smi.stdout
    return info


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_check_out", help="where the results go")
    parser.add_argument("stages", nargs="*", help=f"any of {', '.join(STAGES)} (default: the first four)")
    args = parser.parse_args(argv)
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}: choose from {', '.join(STAGES)}")
    args.stages = args.stages or list(DEFAULT_STAGES)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING)
    report: dict[str, Any] = {"dry_run": not GPU, "environment": environment(), "stages": {}}
    runners = {
        "tests": stage_tests,
        "bench": stage_bench,
        "determinism": stage_determinism,
        "study": lambda out: stage_study(out, "0", 7, "study-seed0"),
        "study3": lambda out: stage_study(out, "0,1,2", 21, "study-3seeds"),
        "suite": stage_suite,
    }
    for stage in args.stages:
        started = time.perf_counter()
        try:
            result = runners[stage](args.out)
        except Exception as error:  # one failed stage must not cost the others' results
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        result["stage_seconds"] = time.perf_counter() - started
        report["stages"][stage] = result
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
        verdict = "ok" if result.get("ok") else "FAILED"
        print(f"{stage}: {verdict} in {result['stage_seconds']:.0f} s", flush=True)
    return report


if __name__ == "__main__":
    sys.exit(0 if all(stage.get("ok") for stage in main()["stages"].values()) else 1)
