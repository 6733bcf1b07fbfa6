"""Build a tiny, randomly initialised NLI model (BERT, 3 classes) in a folder, for tests and plumbing runs.

No NLI weights can be downloaded here; this model has the shape and config of a real one
(``id2label`` names the entailment class) and answers at random. Never evidence of accuracy.

    python scripts/build_tiny_nli.py OUTPUT_FOLDER [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the of and in to a was is born city country member part whole cause effect component contains has no known relations "
         "with employee employer produces product origin destination topic message instrument agency collection").split()  # fmt: skip


def build(output: Path, seed: int = 0) -> Path:
    """Write the model, its config and a word-level BERT tokenizer to ``output``; return it."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(seed)
    output.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + sorted(set(WORDS) | {c for c in "abcdefghijklmnopqrstuvwxyz0123456789"}) + list(".,;:'\"()[]-!?")
    (output / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(output / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(output)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
        num_labels=3, id2label={0: "contradiction", 1: "neutral", 2: "entailment"}, label2id={"contradiction": 0, "neutral": 1, "entailment": 2},
    )  # fmt: skip
    BertForSequenceClassification(config).eval().save_pretrained(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote a tiny random NLI model to {build(args.output, args.seed)}")


if __name__ == "__main__":
    main()
