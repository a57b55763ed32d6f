"""The README and the code say the same thing: settings, flags, reason codes, check names.

Settings are declared once (``FilterConfig``/``ReadOptions`` field metadata); these tests
catch the drift that repeating them used to cause (a README listing half the ``disable``
names, or documenting a flag that no command has).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from prefdata import reasons
from prefdata.checks import CHECKS
from prefdata.cli.main import app
from prefdata.cli.settings_options import settings_fields
from prefdata.config import FilterConfig, ReadOptions
from prefdata.dataset import DATASET_CHECKS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
runner = CliRunner()


def _command(words: list[str]) -> tuple[list[str], Any]:
    """The deepest prefdata (sub)command that ``words`` name, and the words naming it."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    for word in words:
        # typer vendors its own click: a group is what can look up a subcommand
        lookup = getattr(command, "get_command", None)
        sub = lookup(command.context_class(command), word) if lookup else None
        if sub is None:
            break
        command = sub
        path.append(word)
    return path, command


def _flags(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("-")
    }


def _readme_examples() -> list[list[str]]:
    """Every ``prefdata ...`` command line in the README: code-block lines and spans."""
    lines = [
        line.strip()
        for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
        for line in re.sub(r"\\\n\s*", " ", block).splitlines()  # join `\` continuations
        if line.strip().startswith("prefdata ")
    ]
    spans = [
        " ".join(span.split()) for span in re.findall(r"`(prefdata [^`]+)`", README, flags=re.S)
    ]
    examples = []
    for text in [*lines, *spans]:
        words = shlex.split(text.split(" #", 1)[0])[1:]
        if words and not words[0].isupper():  # not `prefdata COMMAND --help`
            examples.append(words)
    return examples


def test_every_setting_has_a_flag() -> None:
    fields = settings_fields(FilterConfig, ReadOptions)
    assert {f.name for f in fields} == {
        f.name for cls in (FilterConfig, ReadOptions) for f in dataclasses.fields(cls)
    }, "a settings field without metadata has no flag"
    _, filter_cmd = _command(["filter"])
    _, validate_cmd = _command(["validate"])
    _, inspect_cmd = _command(["inspect"])
    params = {p.name for p in filter_cmd.params}
    assert params >= {f.name for f in fields} | {"config"}
    assert {p.name for p in validate_cmd.params} >= {f.name for f in fields}
    assert {p.name for p in inspect_cmd.params} >= {f.name for f in dataclasses.fields(ReadOptions)}
    help_text = runner.invoke(app, ["filter", "--help"], env={"COLUMNS": "240"}).output
    for f in fields:
        assert f.metadata["help"], f"{f.name} has no help text"
        flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
        assert flag.split("/")[0] in help_text, flag


def test_every_reason_code_is_in_the_readme() -> None:
    codes = [
        value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)
    ]
    assert len(codes) >= 15  # the module really was read
    missing = [code for code in codes if f"`{code}`" not in README]
    assert not missing, f"reason codes missing from README.md: {missing}"


def test_every_disable_name_is_in_the_readme() -> None:
    names = sorted({*CHECKS, *DATASET_CHECKS})
    assert len(names) == 10
    # the Settings section lists them all, not half
    section = README.split("### Settings", 1)[1].split("\n### ", 1)[0]
    missing = [name for name in names if f"`{name}`" not in section]
    assert not missing, f"README's Settings section lacks disable names {missing}"


@pytest.mark.parametrize("words", _readme_examples(), ids=lambda w: " ".join(w)[:60])
def test_readme_command_flags_exist(words: list[str]) -> None:
    path, command = _command(words)
    assert path or words[0].startswith("-"), f"`prefdata {' '.join(words)}` names no command"
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    known = _flags(command) | {"--help"}  # click adds --help outside params
    used = {w.split("=", 1)[0] for w in words if w.startswith("-")}
    unknown = sorted(used - known)
    assert not unknown, f"`prefdata {' '.join(path)}` has no {unknown}"
