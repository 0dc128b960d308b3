"""The welcome card and the help card: what the bot does, and what this person may do."""

from collections.abc import Sequence
from dataclasses import dataclass

from cards.elements import Card, Element, bullets, card, facts, heading, text

PURPOSE = (
    "I help the council run its Managing Customer Engagement policy: staff report incidents "
    "of unacceptable behaviour, managers decide proportionately, restrictions are reviewed on "
    "time, appeals reach the right people, and everything is kept in a secure register."
)


@dataclass(frozen=True)
class CommandHelp:
    usage: str
    summary: str


def _command_rows(commands: Sequence[CommandHelp]) -> Element:
    return bullets(f"**{c.usage}**: {c.summary}" for c in commands)


def welcome_card(
    name: str | None,
    role_labels: Sequence[str],
    commands: Sequence[CommandHelp],
    actions: Sequence[Element] = (),
) -> Card:
    first = (name or "").split()
    greeting = f"Hello {first[0]}" if first else "Hello"
    roles = ", ".join(role_labels) if role_labels else "Staff"
    return card(
        [
            heading(greeting),
            text(PURPOSE),
            facts([("Your roles", roles)]),
            text("What you can do here", weight="Bolder"),
            _command_rows(commands),
            text(
                "If you are in danger, call 999. You may end any contact you find distressing.",
                subtle=True,
            ),
        ],
        actions,
    )


def help_card(
    role_labels: Sequence[str], commands: Sequence[CommandHelp], actions: Sequence[Element] = ()
) -> Card:
    roles = ", ".join(role_labels) if role_labels else "Staff"
    return card(
        [
            heading("Help", size="Medium"),
            text(PURPOSE, subtle=True),
            facts([("Your roles", roles)]),
            _command_rows(commands),
            text(
                "Type a command in this chat, or press a button. Commands are not case sensitive.",
                subtle=True,
            ),
        ],
        actions,
    )


def suggestion_card(typed: str, likely: Sequence[CommandHelp], actions: Sequence[Element]) -> Card:
    """The answer to something the bot does not know: what it probably meant, as buttons."""
    if not likely:
        return card([text(f'I don\'t know "{typed}". Press **Help** to see what I can do.')], actions)
    return card(
        [text(f'I don\'t know "{typed}". Did you mean:'), _command_rows(likely)],
        actions,
    )
