"""Write docs/cli.md: the reference of every ``qa4re`` command, generated from the commands themselves.

    python scripts/cli_reference.py            # run by make docs before mkdocs builds the site
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from qa4re.cli import app

OUT = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def reference() -> str:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]  # a typer group: name -> command
    lines = ["# Command-line reference", "", "Generated from the commands by `scripts/cli_reference.py` (`make docs`); `qa4re COMMAND --help` says the same.", ""]
    for name in sorted(commands):
        command = commands[name]
        lines += [f"## qa4re {name}", "", (command.help or "").strip(), "", "| option | default | meaning |", "|---|---|---|"]
        for param in command.params:
            if param.param_type_name != "option" or getattr(param, "hidden", False):
                continue
            flags = " / ".join(f"`{f}`" for f in [*param.opts, *param.secondary_opts])
            default = "" if param.default is None or param.required else f"`{param.default.value if hasattr(param.default, 'value') else param.default}`"
            meaning = _cell(param.help or "") + (" (required)" if param.required else "")
            choices = getattr(getattr(param, "bare_type", None), "__members__", None)  # an enum's names
            if choices:
                meaning += " One of: " + ", ".join(f"`{m.value}`" for m in choices.values()) + "."
            lines.append(f"| {flags} | {_cell(default)} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    OUT.write_text(reference(), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
