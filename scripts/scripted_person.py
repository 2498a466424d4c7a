"""A scripted "person" for the human benchmark: answers a served test through the page's own HTTP API.

    python -m mnist1d.apps.human name=scripted            # prints the URL
    python scripts/scripted_person.py <url> [--seed 0]    # answers every remaining question

Not a person: it looks up each question's true digit (by matching the signal against the generated test
split, default generator arguments) and then answers like the published human expert, drawing its answer
from that digit's row of the expert's confusion matrix (published_results.json `human_per_digit`); on the
shuffled variant it is right with the published 30 % and otherwise picks another digit at random. It sends
no response times. For demonstrations and figures only: its results say nothing about people.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from typing import Any

import numpy as np

from mnist1d.apps.human.server import TOKEN_HEADER, page_token
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig
from mnist1d.reports.common import published


def call(url: str, path: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    """A GET, or with `body` a POST carrying the page's session token as the page does."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", TOKEN_HEADER: token}
    with urllib.request.urlopen(urllib.request.Request(url + path, data, headers), timeout=60) as response:
        return json.loads(response.read())


def answer_rows(shuffled: bool) -> np.ndarray:
    """Row d: the probability of each answer when the true digit is d."""
    if shuffled:
        right = published("original_paper_table")["mnist1d_shuffled"]["human"] / 100
        return np.full((10, 10), (1 - right) / 9) + np.eye(10) * (right - (1 - right) / 9)
    counts = np.asarray(published("human_per_digit")["as_published"]["confusion_matrix"], dtype=float)
    return counts / counts.sum(1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the URL the app printed, e.g. http://127.0.0.1:8765/")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn answers")
    args = parser.parse_args()
    url = args.url if args.url.endswith("/") else args.url + "/"
    with urllib.request.urlopen(url, timeout=60) as page:
        token = page_token(page.read())
    info = call(url, "api/info")
    data = load_dataset(DatasetConfig(shuffle_seq=info["shuffled"]))
    rows = answer_rows(info["shuffled"])
    rng = np.random.default_rng(args.seed)
    state = call(url, "api/state")
    while not state["done"]:
        question = state["answered"]
        x = np.asarray(call(url, f"api/question/{question}")["x"])
        label = int(data["y_test"][np.abs(data["x_test"] - x).max(1).argmin()])
        digit = int(rng.choice(10, p=rows[label]))
        state = call(url, "api/answer", {"question": question, "answer": digit}, token)
    result = call(url, "api/result")
    print(f"scripted person: {result['n_correct']} of {result['n_questions']} right")


if __name__ == "__main__":
    main()
