"""The app behind `python -m mnist1d.apps.human` (config `conf/apps/human.yaml`): check the settings, then
either serve a test (new, or `resume=`) until Ctrl-C, or write the comparison of a finished one (`compare=`).

The results directory is Hydra's run directory, `outputs/human/<time>_<name>/`; `resume=<dir>` makes it
that directory again and `compare=<dir>` writes into `<dir>/comparison/` (resolver `human_run_dir`).
"""

from __future__ import annotations

import re
import webbrowser
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from mnist1d.apps.human.api import BenchmarkApi
from mnist1d.apps.human.quiz import HumanInputError, Session, stratified_questions
from mnist1d.apps.human.server import BenchmarkServer, DirectoryLock
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig
from mnist1d.records import HumanRecord, read_run
from mnist1d.reports.human import run_results, write_comparison
from mnist1d.rules import Rule, Together, is_int, refuse

NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
COMPARISON_DIR = "comparison"


def human_run_dir(compare: str | None, resume: str | None, new: str) -> str:
    """Hydra's run directory: the comparison's folder, the resumed test's directory, or a new one."""
    if compare:
        return str(Path(compare) / COMPARISON_DIR)
    return resume or new


OmegaConf.register_new_resolver("human_run_dir", human_run_dir, replace=True)


def run_paths(runs: Any) -> list[Path]:
    """`runs` as a list of paths (one path or a list of them)."""
    items = list(runs) if isinstance(runs, ListConfig | list | tuple) else [] if runs is None else [runs]
    return [Path(str(item)) for item in items]


def results_directory(value: Any) -> bool:
    return value is None or Path(str(value)).is_dir()


# What the settings must be, checked before any work (see mnist1d/rules.py).
RULES = (
    Rule(
        "name", "1-64 letters, digits, '.', '_' or '-'", lambda v: isinstance(v, str) and bool(NAME.match(v))
    ),
    Rule("n_questions", "a positive integer", lambda v: is_int(v) and v >= 1),
    Rule("seed", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("port", "0 (a free port) or 1-65535", lambda v: is_int(v) and 0 <= v <= 65535),
    Rule("compare", "a results directory", results_directory),
    Rule("resume", "a results directory", results_directory),
    Rule(
        "runs", "a run or sweep directory, or a list of them", lambda v: all(p.is_dir() for p in run_paths(v))
    ),
    Together(
        ("compare", "resume"),
        "are exclusive: compare a finished test or resume one",
        lambda compare, resume: not (compare and resume),
    ),
    Together(
        ("runs", "compare"),
        "is refused: runs= is only used with compare=<the results directory of a finished test>",
        lambda runs, compare: bool(compare) or not run_paths(runs),
    ),
)


def validate(cfg: DictConfig) -> None:
    """Refuse bad settings before any work, naming the field, its value and what is allowed."""
    refuse(RULES, cfg, error=HumanInputError)


def compare(cfg: DictConfig) -> list[Path]:
    """Write the comparison of the finished test in `cfg.compare` with the finished runs of `cfg.runs`."""
    person = read_run(Path(cfg.compare))
    if not isinstance(person, HumanRecord):
        raise HumanInputError(f"compare={cfg.compare!r} is invalid: it holds no finished test (results.json)")
    runs = [results for path in run_paths(cfg.runs) for results in run_results(path)]
    return write_comparison(Path(cfg.paths.output_dir), person, runs)


def open_session(cfg: DictConfig, directory: Path) -> tuple[Session, dict[str, Any]]:
    """The resumed or new session and its dataset; a resumed test keeps the settings it began with."""
    session = Session.resume(directory) if cfg.resume else None
    config = session.record["config"] if session else OmegaConf.to_container(cfg, resolve=True)
    data = load_dataset(DatasetConfig.from_args(config["data"]), cfg.paths.cache_dir)
    questions = stratified_questions(data["y_test"], config["n_questions"], config["seed"])
    if session is None:
        return Session.start(directory, questions, config), data
    if session.questions != questions:
        raise HumanInputError(
            f"resume={directory} is invalid: its questions differ from those its settings draw"
        )
    return session, data


def serve(cfg: DictConfig) -> None:
    """Serve the test until Ctrl-C; every answer is already on disk when the page moves on."""
    directory = Path(cfg.resume or cfg.paths.output_dir)
    lock = DirectoryLock(directory)  # first: a second server on this directory stops here
    try:
        session, data = open_session(cfg, directory)
        api = BenchmarkApi(data, session, shuffled=bool(session.record["config"]["data"]["shuffle_seq"]))
        with BenchmarkServer(api, cfg.port) as server:
            lock.note(server.url)
            print(
                f"Human benchmark for {session.record['config']['name']}: open {server.url} "
                f"({len(session.answers)} of {len(session.questions)} answered).\n"
                f"Answers are saved after every question in {directory}; stop with Ctrl-C and continue with\n"
                f"  python -m mnist1d.apps.human resume={directory}",
                flush=True,
            )
            if cfg.open_browser:
                webbrowser.open(server.url)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                print(f"stopped; {len(session.answers)} answers saved in {directory}", flush=True)
    finally:
        lock.release()


def run(cfg: DictConfig) -> list[Path] | None:
    validate(cfg)
    if cfg.compare:
        return compare(cfg)
    serve(cfg)
    return None
