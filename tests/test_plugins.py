"""A method, a debiaser and a backend added from outside the package: one module each plus its registration.

The toy package below is installed the way pip installs one (a ``.dist-info`` folder with
``entry_points.txt`` on the path), and ``qa4re evaluate`` runs with ``--method shout --debias
flip --model toy:anything`` without a line of qa4re changed. The same objects also register in a
running program with ``Registry.add``. A fake backend: plumbing, not evidence that extraction works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURES
from helpers import qa4re
from qa4re.backends.registry import BACKENDS
from qa4re.datasets import OnError, read_dataset
from qa4re.errors import UnknownNameError
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.debiasers import DEBIASERS
from qa4re.extract.methods import METHODS
from qa4re.extract.pipeline import Extractor
from qa4re.extract.selectors import SELECTORS
from qa4re.schemas.loader import load_schema
from qa4re.types import Prediction, RelationInstance

SEMEVAL = FIXTURES / "semeval_small"

METHOD = '''
from dataclasses import dataclass

from qa4re.extract.methods.qa4re import QA4RE
from qa4re.fields import setting
from qa4re.prompts.render import RenderedPrompt


class Shout(QA4RE):
    """QA4RE's options under an instruction of its own, with an option of its own (--method-options exclaim=N)."""

    name = "shout"

    @dataclass(frozen=True)
    class Options:
        exclaim: int = setting(0, "Exclamation marks after the answer cue.", minimum=0)

    def render(self, instance, options, demonstrations=()):
        lines = [f"{o.letter}. {o.statement.upper()}" for o in options]
        cue = "\\nANSWER" + "!" * (self.own.exclaim if self.own else 0) + ":"
        return RenderedPrompt("WHICH IS TRUE OF: " + instance.text + "\\n" + "\\n".join(lines) + cue, options)
'''

DEBIASER = '''
from qa4re.extract.debiasers.base import Debiaser


class Flip(Debiaser):
    """Reverses the option probabilities: a debiaser that shows it ran."""

    name = "flip"

    def combine(self, plan, by_position):
        return list(reversed(by_position[0]))
'''

BACKEND = '''
import math
from dataclasses import dataclass

from qa4re.backends.base import LANGUAGE_MODEL, OptionScores
from qa4re.fields import setting


class ToyBackend:
    """Likes one answer of every request, the first unless told (0.7; the rest share 0.3)."""

    capabilities = LANGUAGE_MODEL
    settings = ("batch_size",)
    max_letter_options = None

    @dataclass(frozen=True)
    class Options:
        favourite: int = setting(0, "Which answer it likes (0: the first).", minimum=0)

    def __init__(self, model, batch_size=None, favourite=0):
        self.fingerprint = f"toy:{model}:{favourite}"
        self.max_batch_size = batch_size or 4
        self.favourite = favourite
        self.prompts = []

    def score_options(self, requests):
        out = []
        for r in requests:
            rest = math.log(0.3 / max(1, len(r.answers) - 1))
            liked = min(self.favourite, len(r.answers) - 1)
            out.append(OptionScores({a: math.log(0.7) if i == liked else rest for i, a in enumerate(r.answers)}))
            self.prompts.append(r.prompt)
        return out

    def generate(self, requests):
        return ["A" for _ in requests]

    def close(self):
        pass
'''


SELECTOR = '''
from dataclasses import dataclass

from qa4re.extract.selectors.base import Selector
from qa4re.fields import setting


class FirstFew(Selector):
    """Offers only the first candidates of each prompt (--selector-options keep=N)."""

    name = "first-few"

    @dataclass(frozen=True)
    class Options:
        keep: int = setting(2, "Candidates each prompt offers, the first ones.", minimum=1)

    def select(self, prompts, round):
        return round.ask([round.narrowed(p, tuple(o.relation for o in p.prompt.options[: self.own.keep])) for p in prompts])
'''

WHISPER = '''
from qa4re.extract.methods.qa4re import QA4RE


class Whisper(QA4RE):
    """QA4RE's options and reading, in the prompt template this package ships (registered as whisper.v1)."""

    name = "whisper"
    template = "whisper.v1"
'''

WHISPER_TEMPLATE = """id: whisper.v1
instruction: "psst."
options_in: question
option_line: "($letter) $statement"
question: "In: $marked_sentence\\nTrue:\\n$options\\nPick:"
"""

DATASET = '''
from qa4re.datasets.base import Dataset
from qa4re.datasets.jsonl import read_jsonl

TOYS = Dataset("toys", read_jsonl, schema="toy-schema")
'''

TOY_SCHEMA = """id: toy.v1
na_relation: none
relations:
  owns: "{subj} owns {obj}"
  sells: "{subj} sells {obj}"
  none: "{subj} has nothing to do with {obj}"
"""


def install_toy_package(root: Path) -> Path:
    """``toy_qa4re`` with its entry points, as pip would leave it in site-packages."""
    package = root / "toy_qa4re"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, text in (("method", METHOD), ("debiaser", DEBIASER), ("backend", BACKEND), ("whisper", WHISPER), ("dataset", DATASET), ("selector", SELECTOR)):
        (package / f"{name}.py").write_text(textwrap.dedent(text))
    (package / "templates").mkdir()
    (package / "templates" / "whisper.v1.yaml").write_text(WHISPER_TEMPLATE)
    (package / "schemas").mkdir()
    (package / "schemas" / "toy.v1.yaml").write_text(TOY_SCHEMA)
    info = root / "toy_qa4re-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-qa4re\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[qa4re.methods]\nshout = toy_qa4re.method:Shout\n\n[qa4re.debiasers]\nflip = toy_qa4re.debiaser:Flip\n\n"
        "[qa4re.backends]\ntoy = toy_qa4re.backend:ToyBackend\n\n[qa4re.methods]\nwhisper = toy_qa4re.whisper:Whisper\n\n"
        "[qa4re.templates]\nwhisper.v1 = toy_qa4re:templates/whisper.v1.yaml\n\n[qa4re.datasets]\ntoys = toy_qa4re.dataset:TOYS\n\n"
        "[qa4re.schemas]\ntoy-schema = toy_qa4re:schemas/toy.v1.yaml\n"
    )
    return root


def test_a_third_party_package_adds_a_method_a_debiaser_and_a_backend_through_entry_points(tmp_path: Path) -> None:
    site = install_toy_package(tmp_path / "site")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "qa4re", "evaluate", "--dataset", "semeval", "--data", str(SEMEVAL), "--method", "shout", "--debias", "flip",
               "--model", "toy:anything", "--batch-size", "2", "--output", str(out), "--cache", str(tmp_path / "c.sqlite")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert records and not any("error" in r for r in records)
    # The toy backend likes the first option; the toy debiaser reversed the probabilities, so the last option won.
    assert all(r["answer"] == max(r["letter_to_relation"]) for r in records)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["model"]["fingerprint"] == "toy:anything:0" and metrics["run"]["config"]["method"] == "shout"

    # The backend's own option, declared in its Options class: reaches its constructor; a misspelt one is one line.
    own = subprocess.run([*command[:-4], "--debias", "none", "--backend-options", "favourite=1", "--output", str(tmp_path / "own"), *command[-2:]],
                         capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert own.returncode == 0, own.stderr
    liked = [json.loads(line) for line in (tmp_path / "own" / "predictions.jsonl").read_text().splitlines()]
    assert liked and all(r["answer"] == "B" for r in liked)
    typo = subprocess.run([*command, "--backend-options", "favorite=1"], capture_output=True, text=True, timeout=300, env=env)
    assert typo.returncode == 2 and "Traceback" not in typo.stderr and len(typo.stderr.strip().splitlines()) == 1
    assert "Unknown option of the toy backend (ToyBackend) 'favorite'. Did you mean: favourite?" in typo.stderr

    # Misspelt, a plug-in's name gets the same suggestions as a built-in one.
    wrong = subprocess.run([*command[:9], "shuot", *command[10:]], capture_output=True, text=True, timeout=300, env=env)
    assert wrong.returncode == 2 and "Unknown method 'shuot'. Did you mean: shout" in wrong.stderr and "Traceback" not in wrong.stderr


def test_a_method_and_a_debiaser_register_in_a_running_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_toy_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    from toy_qa4re.backend import ToyBackend  # type: ignore[import-not-found]
    from toy_qa4re.debiaser import Flip  # type: ignore[import-not-found]
    from toy_qa4re.method import Shout  # type: ignore[import-not-found]

    with pytest.raises(UnknownNameError, match="Unknown method 'loud'"):
        ExtractorConfig(method="loud")
    METHODS.add("loud", Shout)
    DEBIASERS.add("reverse", Flip)
    try:
        items = [i for i in read_dataset("semeval", SEMEVAL / "TEST_FILE_FULL.TXT", OnError.SKIP) if isinstance(i, RelationInstance)][:3]
        outputs = list(Extractor(load_schema("semeval"), ToyBackend("x"), ExtractorConfig(method="loud", debias="reverse")).predict(items))
    finally:
        METHODS.remove("loud")
        DEBIASERS.remove("reverse")
    assert all(isinstance(o, Prediction) and o.answer == max(o.letter_to_relation) for o in outputs)


def test_a_plugin_method_and_a_plugin_selector_own_their_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_toy_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    from toy_qa4re.backend import ToyBackend
    from toy_qa4re.method import Shout
    from toy_qa4re.selector import FirstFew  # type: ignore[import-not-found]

    items = [i for i in read_dataset("semeval", SEMEVAL / "TEST_FILE_FULL.TXT", OnError.SKIP) if isinstance(i, RelationInstance)][:3]
    METHODS.add("loud", Shout)
    SELECTORS.add("first-few", FirstFew)
    BACKENDS.add("toy", ToyBackend)
    try:
        backend = ToyBackend("x")
        config = ExtractorConfig(method="loud", method_options="exclaim=3", selector="first-few", selector_options="keep=2")
        outputs = list(Extractor(load_schema("semeval"), backend, config).predict(items))
        assert all(isinstance(o, Prediction) and len(o.letter_to_relation) <= 3 for o in outputs)  # the two kept, and NA
        assert backend.prompts and all(p.endswith("ANSWER!!!:") for p in backend.prompts)
        assert ExtractorConfig(method="loud").own_options("method") == Shout.Options(exclaim=0)  # its defaults
        # On the command line: the same options; a misspelt one, a bad value, or one given to a class that declares none is one line.
        args = ("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "2", "--model", "toy:x", "--cache", tmp_path / "c.sqlite")
        run = qa4re(*args, "--method", "loud", "--method-options", "exclaim=1", "--selector", "first-few", "--output", tmp_path / "o")
        assert json.loads((tmp_path / "o" / "metrics.json").read_text())["run"]["config"]["method_options"] == "exclaim=1", run.stderr
        for extra, message in (
            (("--method", "loud", "--method-options", "exclam=1"), "--method-options: Unknown option of the loud method 'exclam'. Did you mean: exclaim?"),
            (("--method", "loud", "--method-options", "exclaim=-1"), "--method-options: exclaim: must be at least 0"),
            (("--selector-options", "keep=2"), "--selector-options: the auto selector declares no options of its own"),
            (("--method-options", "exclaim=1"), "--method-options: the qa4re method declares no options of its own"),
        ):
            bad = qa4re(*args, *extra, "--output", tmp_path / "bad", check=False)
            assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith(f"error: {message}"), (extra, bad.stderr)
    finally:
        METHODS.remove("loud")
        SELECTORS.remove("first-few")
        BACKENDS.remove("toy")


def test_a_plugin_method_ships_its_template_and_a_plugin_dataset_its_schema(tmp_path: Path) -> None:
    site = install_toy_package(tmp_path / "site")
    data = tmp_path / "toys.jsonl"
    record = {"id": "t1", "text": "Ann owns a shop.", "subj": {"start": 0, "end": 3}, "obj": {"start": 9, "end": 15}, "relation": "owns"}
    data.write_text(json.dumps(record) + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "qa4re", "evaluate", "--dataset", "toys", "--data", str(data), "--method", "whisper", "--model", "toy:x",
               "--output", str(tmp_path / "out"), "--cache", str(tmp_path / "c.sqlite")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    (prediction,) = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert prediction["letter_to_relation"] == {"A": "owns", "B": "sells", "C": "none"} and prediction["prediction"] == "owns"
    shown = subprocess.run([*command[:3], "prompt", "--dataset", "toys", "--data", str(data), "--method", "whisper"], capture_output=True, text=True, env=env)
    assert shown.stdout.startswith("psst.") and "(A) [Ann] owns [a shop]" in shown.stdout and shown.stdout.rstrip().endswith("Pick:"), shown.stderr
    helped = subprocess.run([*command[:3], "evaluate", "--help"], capture_output=True, text=True, env={**env, "COLUMNS": "400"})
    assert "whisper" in helped.stdout and "toys" in helped.stdout  # help texts list a registry's names, plug-ins' included
