"""What every app refuses (`check_app`), and that each app checks its settings before Hydra creates its
run directory: from a fresh working directory a refusal is one message and exit 1, and nothing is created."""

from __future__ import annotations

import importlib
import socket
import sys
from pathlib import Path

import pytest

from mnist1d.errors import FULL_ERROR_HINT


def tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


REFUSED = {  # app, its arguments -> words of the one-line refusal
    ("metalearn_lr", "+foo=bar"): "foo is not a key of this config (added with +foo=...?): its keys are",
    ("metalearn_lr", "outer_lr=inf"): "outer_lr=inf is invalid: must be a finite number",
    (
        "metalearn_lr",
        "outer_steps=100000000000000000000",
    ): "outer_steps=100000000000000000000 is invalid: must",
    ("metalearn_lr", "threads=-1"): "threads=-1 is invalid: must be an integer in [1, 1024]",
    (
        "metalearn_lr",
        "run_name=../../x",
    ): "run_name='../../x' is invalid: must be 1-200 characters without '/'",
    ("metalearn_lr", "hydra.run.dir=notes.txt"): "hydra.run.dir=notes.txt is invalid: notes.txt is a file",
    ("metalearn_lr", "sizes=[40,-5,10]"): "sizes=[40, -5, 10] is invalid: must be a list of input, hidden",
    ("metalearn_activation", "seed=[]"): "seed=[] is invalid: must be an integer in [0, 2**32)",
    ("metalearn_activation", "threads=0"): "threads=0 is invalid: must be an integer in [1, 1024]",
    ("dataset_figures", "+foo=bar"): "foo is not a key of this config",
    ("dataset_figures", "tsne.perplexity=nan"): "tsne.perplexity=nan is invalid: must be a finite number",
    ("dataset_figures", "paths.cache_dir=notes.txt/cache"): "paths.cache_dir='notes.txt/cache' is invalid",
    ("human", "+foo=bar"): "foo is not a key of this config",
    ("human", "seed=1e400"): "seed=inf is invalid: must be an integer in [0, 2**32)",
    ("human", "port=<in use>"): "is invalid: cannot listen there (Address already in use)",
    ("human", "hydra.run.dir=notes.txt"): "hydra.run.dir=notes.txt is invalid: notes.txt is a file",
    ("lottery_tickets", "+foo=bar"): "foo is not a key of this config",
    ("lottery_tickets", "pruning.prune_step=15"): "pruning.prune_step=15 with pruning.steps=1500",
    ("self_supervised", "temperature=0"): "temperature=0 is invalid",
    ("self_supervised", "threads=0"): "threads=0 is invalid: must be an integer in [1, 1024]",
}


@pytest.mark.parametrize(("app", "argument"), REFUSED, ids=[" ".join(case) for case in REFUSED])
def test_an_app_refuses_before_hydra_creates_a_directory(app, argument, tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("a file")
    words = REFUSED[app, argument]
    with socket.socket() as holder:  # a port another program listens on
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        argument = argument.replace("<in use>", str(holder.getsockname()[1]))
        module = importlib.import_module(f"mnist1d.apps.{app}" + (".__main__" if app == "human" else ""))
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
        monkeypatch.setattr(sys, "argv", [app, argument])
        before = tree(tmp_path)
        with pytest.raises(SystemExit) as stopped:
            module.main()
    err = capsys.readouterr().err
    assert stopped.value.code == 1 and words in err
    assert err.endswith(f"\n\n{FULL_ERROR_HINT}\n") and err.count("\n") == 3 and "Traceback" not in err, err
    assert tree(tmp_path) == before
