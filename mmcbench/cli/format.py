"""How `mmcbench --help` looks: every subcommand with a description, defaults shown."""

from __future__ import annotations

import argparse
import textwrap


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks; an option with a default says it (not for required
    options, flags or options whose default is "none")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or action.required
            or default in (None, False, argparse.SUPPRESS)
            or default == []
            or not (action.option_strings or action.nargs in ("?", "*"))
        ):
            return text
        return f"{text} (default: %(default)s)".strip()


def add_command(
    sub: argparse._SubParsersAction, name: str, summary: str, details: str = ""
) -> argparse.ArgumentParser:
    """A subcommand whose `--help` starts with `summary` (also its line in `mmcbench --help`)
    and goes on with `details`."""
    description = summary[0].upper() + summary[1:] + "."
    if details:
        description += "\n\n" + textwrap.fill(details.strip(), width=88)
    return sub.add_parser(
        name, help=summary, description=description, formatter_class=HelpFormatter
    )
