"""The lowest versions CI installs (constraints/lowest.txt) are the lower bounds pyproject.toml
declares, so the suite passing on them proves those bounds."""

import re
import tomllib
from pathlib import Path


def release(text: str) -> tuple[int, ...]:
    """A release number compared as PyPI compares them: 1.1 is 1.1.0."""
    parts = [int(part) for part in text.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)

ROOT = Path(__file__).parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def _declared() -> dict[str, str | None]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, str | None] = {}
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        lower = re.search(r">=\s*([\w.]+)", requirement)
        exact = re.search(r"==\s*([\w.]+)", requirement)
        found[_name(requirement)] = (lower or exact).group(1) if (lower or exact) else None
    return found


def _pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints" / "lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split(";", 1)[0].split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_every_direct_dependency_has_a_lower_bound_and_ci_installs_exactly_it():
    declared, pinned = _declared(), _pinned()
    assert all(declared.values()), {name for name, low in declared.items() if not low}
    exact = {"botbuilder-core", "botbuilder-integration-aiohttp"}  # pinned in pyproject.toml itself
    bounds = {name: release(low) for name, low in declared.items() if name not in exact and low}
    assert bounds == {name: release(version) for name, version in pinned.items()}
