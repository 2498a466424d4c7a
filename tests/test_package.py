"""The project as an installed package: the built wheel holds every module and config, and its commands run
from another directory in a fresh environment; the core install without any extra, and every imported module
declared; plus `python -m mnist1d.cli`, a second checkout sharing the venv, and the name-clash warning."""

from __future__ import annotations

import ast
import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import (
    PackageNotFoundError,
    distribution,
    distributions,
    packages_distributions,
    version,
)
from pathlib import Path, PurePath

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mnist1d import cli
from mnist1d.config.compose import CONF_DIR, config_options
from mnist1d.extras import EXTRAS
from tests.helpers import ROOT, read_results

# What the build reads from the checkout (pyproject.toml's readme, license-files, packages).
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "mnist1d", "conf", "hydra_plugins"]
QUICK = ["model=logistic", "eval_every=10", "logger=csv"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would let a child see other code than its interpreter's own."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    return {**env, "PYTHONNOUSERSITE": "1", "WANDB_MODE": "disabled", **extra}


def run(command: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def packaged_files() -> list[str]:
    """What the wheel must hold: every file of the package and of conf/ (as mnist1d/conf/), not caches."""
    files = []
    for source, target in ((ROOT / "mnist1d", "mnist1d"), (CONF_DIR, "mnist1d/conf")):
        for path in source.rglob("*"):
            relative = path.relative_to(source)
            hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
            if path.is_file() and not hidden and path.suffix != ".pyc":
                files.append(f"{target}/{relative.as_posix()}")
    return sorted(files)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the checkout (a build writes build/ and *.egg-info beside it)."""
    try:
        setuptools_major = int(version("setuptools").split(".")[0])
    except PackageNotFoundError:
        setuptools_major = 0
    if setuptools_major < 77:
        pytest.skip("building the wheel offline needs setuptools>=77 here (the dev extra installs it)")
    work = tmp_path_factory.mktemp("build")
    (work / "src").mkdir()
    ignore = shutil.ignore_patterns("__pycache__", ".*")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / "src" / name, ignore=ignore)
        else:
            shutil.copy2(source, work / "src" / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    run([*command, "--wheel-dir", work / "dist", work / "src"], cwd=work)
    (built,) = (work / "dist").glob("mnist1d_lab-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only the wheel installed; the dependencies come from this environment's site-packages
    through a .pth line, which adds that folder to sys.path without running its .pth files, so the editable
    install of the checkout stays invisible there."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], venv)
    purelib = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], venv).stdout.strip()
    )
    (purelib / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_checkout_reads_its_configs_from_the_top_level_conf() -> None:
    """The editable install maps the package mnist1d.conf onto conf/ (pyproject.toml's package-dir)."""
    assert CONF_DIR == ROOT / "conf"
    assert config_options("model") == sorted(
        p.stem for p in (ROOT / "conf" / "train" / "model").glob("*.yaml")
    )


def test_a_second_checkout_sharing_the_venv_runs_with_its_own_configs(tmp_path: Path) -> None:
    """Root scripts run from another checkout (here a copy, edited) read that checkout's conf/, not the one
    the editable install maps; the installed console script keeps the packaged (installed) copy."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in [*SOURCES, "train.py"]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, clone / name)
    main = clone / "conf" / "train" / "train.yaml"
    main.write_text(main.read_text().replace("\neval_every: 250\n", "\neval_every: 123\n"))
    root_script = run([sys.executable, "train.py", "--cfg", "job"], clone).stdout
    console_script = run([Path(sys.executable).parent / "mnist1d-train", "--cfg", "job"], clone).stdout
    assert "\neval_every: 123\n" in root_script and "\neval_every: 250\n" in console_script


def test_the_wheel_holds_every_module_config_and_the_license(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = archive.read(metadata).decode()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert sorted(n for n in names if n.startswith("mnist1d/")) == packaged_files()
    plugins = ("optuna_sweeper.py", "stacked_launcher.py")
    assert all(f"hydra_plugins/mnist1d_lab/{plugin}" in names for plugin in plugins)
    assert "hydra_plugins/__init__.py" not in names
    assert "License-Expression: Apache-2.0" in meta and any(n.endswith("licenses/LICENSE") for n in names)
    for script, target in [("train", "train"), ("eval", "evaluate"), ("sweep", "sweep")]:
        assert f"mnist1d-{script} = mnist1d.cli:{target}" in scripts


@pytest.fixture(scope="module")
def installed_run(fresh_env: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`mnist1d-train` of the fresh venv, run in a directory unrelated to the checkout: (run dir, stderr)."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run_dir = elsewhere / "run"
    command = [
        fresh_env / "bin" / "mnist1d-train",
        *QUICK,
        "trainer.max_steps=20",
        f"hydra.run.dir={run_dir}",
    ]
    return run_dir, run(command, elsewhere).stderr


def test_the_wheel_is_what_the_fresh_venv_imports(fresh_env: Path, tmp_path: Path) -> None:
    python = fresh_env / "bin" / "python"
    code = "import mnist1d, mnist1d.conf; print(mnist1d.__file__); print(mnist1d.conf.__file__)"
    package, conf = run([python, "-c", code], tmp_path).stdout.split()
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path)
    assert Path(package).parent == Path(conf).parent.parent == Path(purelib.stdout.strip()) / "mnist1d"
    # Hydra's own scan of its plugin namespace finds the stacked launcher in an installed wheel.
    code = "from hydra.core.plugins import Plugins; from hydra.plugins.launcher import Launcher; "
    code += "print([p.__name__ for p in Plugins.instance().discover(Launcher)])"
    assert "StackedLauncher" in run([python, "-c", code], tmp_path).stdout
    # An app finds its config in the wheel too (composed and printed, not run).
    app = run([python, "-m", "mnist1d.apps.metalearn_lr", "--cfg", "job"], tmp_path)
    assert "paths:" in app.stdout


def test_the_installed_wheel_trains_from_another_directory(installed_run: tuple[Path, str]) -> None:
    run_dir, stderr = installed_run
    results = read_results(run_dir)
    assert results["status"] == "ok" and results["steps"] == 20 and results["model"] == "logistic"
    assert (run_dir / "train.log").exists()  # the job is named `train`, as with train.py
    assert (run_dir.parent / ".cache" / "mnist1d").is_dir()  # the dataset cache is the working directory's
    assert "pip uninstall mnist1d" not in stderr


def test_the_installed_eval_scores_the_checkpoint(
    fresh_env: Path, installed_run: tuple[Path, str], tmp_path: Path
) -> None:
    run_dir, _ = installed_run
    eval_dir = tmp_path / "eval"
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    command = [fresh_env / "bin" / "mnist1d-eval", f"ckpt_path={checkpoint}", f"hydra.run.dir={eval_dir}"]
    run([*command, f"paths.cache_dir={run_dir.parent / '.cache' / 'mnist1d'}"], tmp_path)
    results = read_results(eval_dir)
    assert results["status"] == "ok" and results["steps"] == 20
    assert results["final_test_acc"] == read_results(run_dir)["final_test_acc"]
    assert (eval_dir / "eval.log").exists()


@pytest.mark.slow  # about 16 s: a sweep process, its job process and the report
def test_the_installed_sweep_launches_its_jobs_through_the_package(fresh_env: Path, tmp_path: Path) -> None:
    """No train.py in a wheel: the jobs run as `python -m mnist1d.cli train`, with the same interpreter."""
    sweep_dir = tmp_path / "sweep"
    arguments = [f"dir={sweep_dir}", "wandb_report=false", "seed=0", "trainer.max_steps=10", *QUICK]
    done = run([fresh_env / "bin" / "mnist1d-sweep", *arguments], tmp_path)
    assert f"{fresh_env / 'bin' / 'python'} -m mnist1d.cli train -m" in done.stdout + done.stderr
    (job_dir,) = sweep_dir.glob("0_logistic-10steps-seed0")
    assert read_results(job_dir)["status"] == "ok"
    with (sweep_dir / "summary.csv").open() as file:
        assert [row["status"] for row in csv.DictReader(file)] == ["ok"]


@pytest.mark.parametrize("arguments", [[], ["fit", "a=1"]])
def test_python_m_cli_names_its_commands_when_given_none_or_another(
    arguments: list[str], monkeypatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["cli.py", *arguments])
    with pytest.raises(SystemExit, match=r"usage: python -m mnist1d.cli \{train,eval,sweep\}"):
        cli.main()


def test_python_m_cli_hands_the_command_its_arguments(monkeypatch) -> None:
    """`python -m mnist1d.cli train a=1` runs as `python train.py a=1` would."""
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "train", lambda: seen.append(list(sys.argv)))
    for arguments in (["a=1", "b=2"], ["-m", "a=1,2"], ["--cfg", "job"]):
        monkeypatch.setattr(sys, "argv", ["cli.py", "train", *arguments])
        cli.main()
    assert seen == [["cli.py", "a=1", "b=2"], ["cli.py", "-m", "a=1,2"], ["cli.py", "--cfg", "job"]]


@pytest.mark.parametrize("command", ["train", "eval"])
def test_the_job_is_named_after_its_command_whichever_entry_point_runs_it(
    command: str, tmp_path: Path
) -> None:
    """Hydra would name the job after the module of its task function (`cli`); the configs name it, so the
    log file is `train.log` / `eval.log` for the scripts, the console scripts and `python -m mnist1d.cli`."""
    arguments = [sys.executable, "-m", "mnist1d.cli", command, "--cfg", "hydra"]
    arguments += ["ckpt_path=x.ckpt"] if command == "eval" else []
    done = subprocess.run(arguments, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert f"name: {command}" in done.stdout.split("job:", 1)[1].splitlines()[1]


@pytest.mark.parametrize("reference_installed", [True, False])
def test_import_warns_once_when_the_reference_distribution_is_installed_too(
    reference_installed: bool, tmp_path: Path
) -> None:
    """A `mnist1d-<version>.dist-info` on sys.path is the reference's: pip shares `mnist1d/` between both."""
    site = tmp_path / "site"
    (site / ("mnist1d-0.0.2.post1.dist-info" if reference_installed else "other-1.0.dist-info")).mkdir(
        parents=True
    )
    code = "import importlib, mnist1d; importlib.import_module('mnist1d'); import mnist1d.data"
    env = clean_env(PYTHONPATH=str(site))
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("pip uninstall mnist1d") == int(reference_installed)
    if reference_installed:
        assert str(site / "mnist1d-0.0.2.post1.dist-info") in done.stderr


def declared() -> dict[str, list[Requirement]]:
    """pyproject.toml's requirements: the core ("") and each extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(line) for line in lines] for group, lines in groups.items()}


def imported_modules(folder: Path) -> set[str]:
    """The top-level modules the Python files under `folder` import (absolute imports only)."""
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"mnist1d", "hydra_plugins", "tests", "__future__"}


def test_every_module_the_code_and_tests_import_is_declared() -> None:
    """Each imported module comes from a distribution that pyproject.toml names (core, or an extra)."""
    names = {canonicalize_name(r.name) for group in declared().values() for r in group}
    names.discard("mnist1d-lab")
    owners = packages_distributions()
    undeclared = {
        module: owners.get(module)
        for folder in ("mnist1d", "hydra_plugins", "tests")
        for module in imported_modules(ROOT / folder)
        if not {canonicalize_name(d) for d in owners.get(module, [])} & names
    }
    assert undeclared == {}


def core_closure() -> set[str]:
    """The distributions `pip install mnist1d-lab` installs: the core requirements and theirs, as installed
    here (markers evaluated for this interpreter, no extras)."""
    closure, todo = set(), [r for r in declared()[""]]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in closure or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        closure.add(name)
        todo += [Requirement(line) for line in distribution(name).requires or []]
    return closure


@pytest.fixture(scope="module")
def core_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the wheel and only what its core requirements install: their files are linked from this
    environment into one folder, which a .pth line puts on the venv's path (no network needed)."""
    venv = tmp_path_factory.mktemp("core") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], venv)
    here = Path(sysconfig.get_paths()["purelib"])
    site = venv.parent / "core_site"
    owners: dict[
        str, set[str]
    ] = {}  # a top-level entry of site-packages -> the distributions with files there
    for installed in distributions():
        for file in installed.files or []:
            owners.setdefault(PurePath(file).parts[0], set()).add(
                canonicalize_name(installed.metadata["Name"])
            )
    for name in core_closure() - {"mnist1d-lab"}:
        for file in distribution(name).files or []:
            parts = PurePath(file).parts
            if parts[0] == "..":  # scripts, outside site-packages
                continue
            shared = len(owners[parts[0]]) > 1 and len(parts) > 1  # a namespace: link its own entries only
            entry = PurePath(*parts[:2]) if shared else PurePath(parts[0])
            if not (site / entry).exists():
                (site / entry).parent.mkdir(parents=True, exist_ok=True)
                (site / entry).symlink_to(here / entry)
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], venv).stdout
    (Path(purelib.strip()) / "core_dependencies.pth").write_text(f"{site}\n")
    return venv


def test_the_core_install_has_no_extra_and_trains(core_env: Path, tmp_path: Path) -> None:
    """What `pip install mnist1d-lab` gives: no Optuna, submitit, TensorBoard, scikit-learn or Selenium, a
    consistent environment (`pip check`), and a run of the default training path."""
    assert not {"optuna", "submitit", "tensorboard", "scikit-learn", "selenium"} & core_closure()
    python = core_env / "bin" / "python"
    code = "import importlib.util as u; print([m for m in " + repr(list(EXTRAS)) + " if u.find_spec(m)])"
    assert run([python, "-c", code], tmp_path).stdout.strip() == "[]"
    assert (
        "No broken requirements"
        in run([sys.executable, "-m", "pip", "--python", python, "check"], tmp_path).stdout
    )
    run_dir = tmp_path / "run"
    arguments = [
        *QUICK,
        "logger=wandb",
        "logger.wandb.mode=offline",
        "trainer.max_steps=10",
        f"hydra.run.dir={run_dir}",
    ]
    run([core_env / "bin" / "mnist1d-train", *arguments], tmp_path)
    assert read_results(run_dir)["status"] == "ok"


def test_a_missing_extra_is_one_line_naming_it(core_env: Path, tmp_path: Path) -> None:
    bin_dir = core_env / "bin"
    commands = {
        "optuna": [bin_dir / "mnist1d-train", "-m", "hparams_search=optuna"],
        "tensorboard": [bin_dir / "mnist1d-train", "logger=csv,tensorboard"],
        "slurm": [bin_dir / "mnist1d-sweep", "launcher=submitit_local"],
        "science": [bin_dir / "python", "-m", "mnist1d.apps.dataset_figures"],
    }
    running = {
        extra: subprocess.Popen(
            [str(c) for c in command], cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for extra, command in commands.items()
    }  # fmt: skip
    errors = {extra: process.communicate(timeout=300)[1] for extra, process in running.items()}
    assert {extra: process.returncode for extra, process in running.items()} == dict.fromkeys(commands, 1)
    for extra, error in errors.items():
        assert f"not installed: pip install 'mnist1d-lab[{extra}]'" in error.splitlines()[0], error
        assert "Traceback" not in error and "ImportError" not in error
    assert (
        errors["optuna"]
        == "hparams_search=optuna needs optuna, not installed: pip install 'mnist1d-lab[optuna]'\n"
    )
    assert not list(tmp_path.rglob("results.json")) and not list(tmp_path.rglob("*.png"))  # before any work


def test_the_commands_load_lightning_only_to_train_or_evaluate(tmp_path: Path) -> None:
    """Importing the commands, composing a config and writing a sweep's report (`sweep.py report=<dir>`)
    pay no Lightning import: the config plumbing and the run records live outside mnist1d.training."""
    script = f"""
import sys
from pathlib import Path

import mnist1d.cli
from mnist1d.config.compose import compose_train
from mnist1d.records import TrainRecord, write_run
from mnist1d.sweeps.launch import main

compose_train(["model=gru"])
run = Path({str(tmp_path)!r}) / "0_cnn-10steps-seed0"
run.mkdir()
history = [{{"step": 10, "test/acc": 0.5}}]  # one evaluation of a run that completed
record = TrainRecord(model="cnn", status="ok", seed=0, max_steps=10, parameters=5210, history=history)
record.final_acc = record.best_acc = record.final_test_acc = 0.5
write_run(run, record)
assert main(["report=" + str(run.parent), "wandb_report=false"]) == 0
print(sorted(name for name in ("pytorch_lightning", "lightning_fabric") if name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "summary.csv").exists() and (tmp_path / "results.md").exists()
