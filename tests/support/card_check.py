"""Every card the tests see, checked with Microsoft's Adaptive Cards library as Teams hosts it.

The recording connector and the harness hand each card they see to `seen`; after each test,
conftest sends that test's new cards to one long-lived Node process (tests/support/validate_cards.js)
and fails the test naming any card the library refuses. Cards already checked are not sent again.
"""

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "validate_cards.js"
PACKAGE = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.js"

_pending: list[tuple[str, dict[str, Any]]] = []
_checked: set[str] = set()


def _cards(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "AdaptiveCard":
            yield node
            return
        for value in node.values():
            yield from _cards(value)
    elif isinstance(node, list):
        for item in node:
            yield from _cards(item)


def seen(where: str, payload: Any) -> None:
    """Note every Adaptive Card in a body the bot sent (`where` says how it was sent)."""
    for card in _cards(payload):
        key = hashlib.sha1(json.dumps(card, sort_keys=True).encode()).hexdigest()
        if key not in _checked:
            _checked.add(key)
            _pending.append((where, card))


def take() -> list[tuple[str, dict[str, Any]]]:
    taken = list(_pending)
    _pending.clear()
    return taken


def missing() -> str | None:
    """Why the cards cannot be checked here, or None."""
    if shutil.which("node") is None:
        return "checking cards needs Node.js"
    if not PACKAGE.exists():
        return "checking cards needs the adaptivecards npm package (npm install)"
    return None


def title(card: dict[str, Any]) -> str:
    """The card's first text, to name it in a failure."""
    for element in _cards_texts(card.get("body", [])):
        return element[:80]
    return "(no text)"


def _cards_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _cards_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _cards_texts(item)


class Validator:
    """One Node process for the whole run: starting it per test would cost more than the checks."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def check(self, cards: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """A line per problem, naming the card; [] when the library accepts them all."""
        if not cards:
            return []
        entries = [{"name": f"{where}: {title(card)!r}", "card": card} for where, card in cards]
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(entries) + "\n")
        process.stdin.flush()
        answer = process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the card validator stopped (exit {process.poll()})")
        found = json.loads(answer)
        return [f"{card['name']}: {problem}" for card in found for problem in card["problems"]]

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                ["node", str(SCRIPT)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._process

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=10)
