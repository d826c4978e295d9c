"""The README's settings table matches the code: every ``Settings`` field with its variable
and default, and every switch read from the environment directly."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any

import pytest

from calendo.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
HEADER = "| variable | default | meaning |"
# Defaults the table states in words rather than as a value to set.
PHRASES: dict[str, Any] = {
    "unset": None,
    "none": [],
    "generated into `.calendo-secret`": "",
}


def _settings_table() -> list[tuple[str, str]]:
    """(variable, default) pairs of the table; a row naming ``A` / `B`` gives one per name."""
    lines = README.read_text().splitlines()
    start = lines.index(HEADER) + 2  # past the header and its --- row
    rows: list[tuple[str, str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names_cell, defaults_cell = (cell.strip() for cell in line.split("|")[1:3])
        names = [name.strip().strip("`") for name in names_cell.split(" / ")]
        defaults = [default.strip() for default in defaults_cell.split(" / ")]
        assert len(names) == len(defaults), f"one default per variable: {line}"
        rows.extend(zip(names, defaults, strict=True))
    return rows


TABLE = _settings_table()


def _environment_switches() -> set[str]:
    """``CALENDO_*`` names the package reads itself, outside ``Settings``: every string
    constant of its source that is exactly such a name (``looplag.ENV_SWITCH``, ...)."""
    names = set()
    for path in (ROOT / "calendo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and re.fullmatch(r"CALENDO_[A-Z0-9_]+", value):
                names.add(value)
    return names


SWITCHES = _environment_switches()


def _field(variable: str) -> str:
    assert variable.startswith("CALENDO_"), variable
    return variable.removeprefix("CALENDO_").lower()


def test_the_table_names_every_setting_once() -> None:
    variables = [variable for variable, _ in TABLE]
    assert len(variables) == len(set(variables)), variables
    settings = {f"CALENDO_{name.upper()}" for name in Settings.model_fields}
    assert "CALENDO_LOOP_LAG_PROBE" in SWITCHES  # the scan finds what it is meant to
    assert set(variables) == settings | SWITCHES, "README settings table vs the code"


def test_every_setting_is_read_from_calendo_and_its_field_name() -> None:
    assert Settings.model_config["env_prefix"] == "CALENDO_"
    aliased = {
        name: (info.alias, info.validation_alias)
        for name, info in Settings.model_fields.items()
        if info.alias or info.validation_alias
    }
    assert aliased == {}, "an alias would make the variable something else than CALENDO_<FIELD>"


@pytest.mark.parametrize(("variable", "default"), TABLE, ids=[v for v, _ in TABLE])
def test_the_stated_default_is_the_default(
    monkeypatch: pytest.MonkeyPatch, variable: str, default: str
) -> None:
    for name in os.environ:
        if name.startswith("CALENDO_"):
            monkeypatch.delenv(name)
    if variable in SWITCHES:  # read with os.environ.get: off while unset
        assert default == "unset", variable
        return
    field = _field(variable)
    expected = Settings.model_fields[field].get_default(call_default_factory=True)
    if default in PHRASES:
        assert expected == PHRASES[default]
        return
    assert default.startswith("`") and default.endswith("`"), f"a literal default: {default}"
    # The value as written, set in the variable, reads back as the default: this proves the
    # variable's name and the default's value (a float 20.0 is written 20) in one go.
    monkeypatch.setenv(variable, default.strip("`"))
    assert getattr(Settings(_env_file=None), field) == expected  # type: ignore[call-arg]
