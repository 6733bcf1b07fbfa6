"""``qa4re tune``'s settings, each declared once (the command's options are built from these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from qa4re.backends.device import Placement
from qa4re.errors import ConfigError
from qa4re.fields import setting, validate
from qa4re.tuning.objectives.base import OBJECTIVES


@dataclass(frozen=True)
class TuneSettings:
    """What is tuned, on what, and how."""

    model: str = setting("default", "Base model: default (embedded SmolLM2-135M-Instruct), a folder, a .gguf file or a hub id (transformers).")
    objective: str = setting("letter", "What the loss asks: letter, content (letter then the option's text) or text (soft targets from option texts).",
                             choices=OBJECTIVES.names)  # fmt: skip
    full: bool = setting(False, "Tune every weight instead of a LoRA adapter.", flag="--full/--lora")
    lora_rank: int = setting(16, "LoRA rank.", minimum=1)
    lora_alpha: int = setting(32, "LoRA alpha (the update is scaled by alpha / rank).", minimum=1)
    lora_targets: str = setting("q_proj,k_proj,v_proj,o_proj", "Comma-separated module names that get LoRA matrices.")
    learning_rate: float = setting(2e-4, "Peak learning rate (linear warm-up, then constant).", minimum=0)
    warmup_steps: int = setting(10, "Optimizer steps of linear warm-up.", minimum=0)
    steps: int = setting(200, "Optimizer steps (more, on a finished run's folder, continue it).", minimum=1, output=False)
    batch_size: int = setting(8, "Items per forward and backward pass.", minimum=1)
    grad_accum: int = setting(1, "Passes whose gradients add up to one optimizer step.", minimum=1)
    min_options: int = setting(2, "Fewest options an item shows (padded with option texts of other items).", minimum=2)
    max_options: int = setting(26, "Most options an item shows (letters A-Z).", minimum=2)
    max_tokens: int = setting(512, "Longest training prompt in tokens: a longer one shows fewer options, or is left out.", minimum=16)
    mix: str = setting("mixed", "mixed: items of every source shuffled together; sequential: each source in turn (a curriculum).",
                       choices=lambda: ("mixed", "sequential"))  # fmt: skip
    seed: int = setting(0, "Seed of the item order, the rendering and the initial adapter (same seed and data: same adapter).")
    checkpoint_every: int = setting(50, "Optimizer steps between checkpoints (each prints the held-out accuracy).", minimum=1, output=False)
    eval_items: int = setting(150, "Held-out items measured at each checkpoint (0: none).", minimum=0, output=False)
    eval_options: int = setting(12, "The held-out items are measured with their own options and padded to this many.", minimum=2, output=False)
    snapshots: bool = setting(False, "Also keep the weights of every checkpoint in step-N folders (for a learning curve).", output=False)
    device: str = setting("auto", "auto (CUDA when available, else CPU), cpu, cuda or cuda:N.")
    dtype: str = setting("float32", "float32, or bfloat16 (autocast; on a CPU only where it has bfloat16 instructions).")
    threads: int | None = setting(None, "CPU threads for torch (default: torch's own).", minimum=1, output=False)

    def __post_init__(self) -> None:
        validate(self)
        Placement(self.device, self.dtype)
        if self.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"dtype '{self.dtype}': tuning runs in float32 or bfloat16 autocast")
        if self.min_options > self.max_options:
            raise ConfigError(f"min_options {self.min_options} is more than max_options {self.max_options}")
        if self.max_options > 26:
            raise ConfigError("max_options: at most 26 (single letters, as the QA4RE prompts use)")

    @property
    def targets(self) -> list[str]:
        return [t.strip() for t in self.lora_targets.split(",") if t.strip()]


