"""Forward-pass time of the embedded model in fp32, bf16 and dynamic int8 on this machine.

Usage: .venv/bin/python bench/precision.py [--batch 8] [--tokens 335] [--repeats 3]

The project scores in fp32. This measures whether cheaper arithmetic would pay here; bf16 and
int8 change the model's numbers, so they would only ever be opt-in.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from qa4re.backends.transformers import TransformersBackend


def seconds(model: torch.nn.Module, ids: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        model(input_ids=ids, logits_to_keep=1)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model(input_ids=ids, logits_to_keep=1)
        return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=335, help="tokens per prompt (SemEval QA4RE prompts average 335)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = TransformersBackend("default").model
    ids = torch.randint(100, 40000, (args.batch, args.tokens), generator=torch.Generator().manual_seed(0))
    fp32 = seconds(model, ids, args.repeats)
    print(f"fp32      {fp32:6.2f} s per forward of {args.batch} x {args.tokens} tokens")
    bf16 = seconds(model.to(torch.bfloat16), ids, args.repeats)
    print(f"bf16      {bf16:6.2f} s  ({fp32 / bf16:.2f}x fp32 speed)")
    model.to(torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int8 = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    dynamic = seconds(int8, ids, args.repeats)
    print(f"int8 dyn  {dynamic:6.2f} s  ({fp32 / dynamic:.2f}x fp32 speed)")


if __name__ == "__main__":
    main()
