"""The paper's FLAN-T5 grid (experiments/paper-flan-t5.yaml) in smoke mode: the same file on a tiny random T5 built here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES

PAPER_GRID = Path(__file__).resolve().parents[1] / "experiments" / "paper-flan-t5.yaml"


def test_the_paper_grid_declares_cuda_and_bfloat16_for_every_flan_t5_model() -> None:
    from qa4re.experiments.config import load_experiment

    env = {"TACRED_DIR": "/t", "TACREV_DIR": "/t", "RETACRED_DIR": "/t", "SEMEVAL_DIR": "/s"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        config = load_experiment(PAPER_GRID)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert [m.name for m in config.models] == ["flan-t5-small", "flan-t5-base", "flan-t5-large", "flan-t5-xl", "flan-t5-xxl"]
    assert {(m.backend.device, m.backend.dtype) for m in config.models} == {("cuda", "bfloat16")}
    assert [d.dataset for d in config.datasets] == ["tacred", "tacrev", "retacred", "semeval"] and all(d.limit is None for d in config.datasets)
    assert [v.name for v in config.variants] == ["qa4re", "vanilla"]


def test_smoke_mode_runs_the_paper_grid_and_prints_published_beside_measured(tmp_path: Path) -> None:
    tacred = str(FIXTURES / "tacred_small.json")
    env = {**os.environ, "TACRED_DIR": tacred, "TACREV_DIR": tacred, "RETACRED_DIR": tacred, "SEMEVAL_DIR": str(FIXTURES / "semeval_small")}
    env["QA4RE_CACHE_DIR"] = str(tmp_path / "cache")  # the tiny T5 is built here, from nothing
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "qa4re", "experiment", str(PAPER_GRID), "--smoke", "--output", str(out)],
                            capture_output=True, text=True, timeout=600, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / "models" / "tiny-random-t5-v1" / "config.json").is_file()
    printed = " ".join(result.stderr.split())
    for dataset, paper in [("tacred", 52.2), ("tacrev", 53.4), ("retacred", 66.5), ("semeval", 43.5)]:
        assert f"{dataset} · qa4re · flan-t5-xxl: F1 " in printed and f"paper {paper:.2f}, Δ " in printed
    data = json.loads((out / "results.json").read_text())
    assert len(data["cells"]) == 5 * 4 * 2  # models x datasets x methods
    assert all(c["fingerprint"].startswith("transformers:dir:") and c["fingerprint"].endswith(":seq2seq:chat=False:bfloat16@cpu") for c in data["cells"])
    report = (out / "results.md").read_text()
    assert "smoke mode" in report.splitlines()[0]
    table = report[report.index("## Measured against the paper") :].split("\n\n")[1].splitlines()
    assert table[0] == "| dataset | variant | model | measured F1 | paper F1 | Δ (measured − paper) |"
    rows = [line.split(" | ") for line in table[2:]]
    published = [("tacred", "52.20"), ("tacrev", "53.40"), ("retacred", "66.50"), ("semeval", "43.50")]
    assert [(r[0].strip("| "), r[2], r[4]) for r in rows] == [(d, "flan-t5-xxl", p) for d, p in published]
    for r in rows:
        assert float(r[5].strip(" |")) == round(float(r[3]) - float(r[4]), 2)
