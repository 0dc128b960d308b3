"""Text commands typed in Teams, who may use them, and where each one goes."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cards import report as report_cards
from cards.elements import open_dialog
from cards.welcome import CommandHelp, help_card, welcome_card
from dialogs import refusals
from dialogs.turn import Actor, Reply, Services
from policy.roles import ROLE_LABELS, Roles

Handler = Callable[[Services, Actor, re.Match[str]], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    pattern: re.Pattern[str]
    usage: str
    summary: str
    handler: Handler
    allowed: Callable[[Roles], bool] = lambda roles: True
    refusal: str | None = None  # who may, in words, for someone who may not

    def help(self) -> CommandHelp:
        return CommandHelp(self.usage, self.summary)


_COMMANDS: list[Command] = []


def command(
    pattern: str,
    usage: str,
    summary: str,
    *,
    allowed: Callable[[Roles], bool] | None = None,
    refusal: str | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler for text matching `pattern` (whole message, case-insensitive)."""

    def register(handler: Handler) -> Handler:
        _COMMANDS.append(
            Command(
                re.compile(pattern, re.IGNORECASE | re.DOTALL),
                usage,
                summary,
                handler,
                allowed or (lambda roles: True),
                refusal,
            )
        )
        return handler

    return register


def available_to(roles: Roles) -> list[Command]:
    return [c for c in _COMMANDS if c.allowed(roles)]


def role_labels(roles: Roles) -> list[str]:
    labels = ["Staff"]
    for grant in sorted(roles.grants, key=lambda g: (g.role.value, g.service_area or "")):
        label = ROLE_LABELS[grant.role]
        if grant.service_area:
            label = f"{label} of {grant.area_name or grant.service_area}"
        if label not in labels:
            labels.append(label)
    return labels


def welcome(actor: Actor) -> Reply:
    commands = [c.help() for c in available_to(actor.roles)]
    return Reply(
        card=welcome_card(
            actor.display_name,
            role_labels(actor.roles),
            commands,
            [open_dialog(report_cards.DIALOG_TITLE, {"action": report_cards.OPEN_ACTION})],
        ),
        summary="Welcome to the customer engagement register",
    )


async def dispatch(services: Services, actor: Actor, typed: str) -> list[Reply]:
    typed = typed.strip()
    for cmd in _COMMANDS:
        match = cmd.pattern.fullmatch(typed)
        if match is None:
            continue
        if not cmd.allowed(actor.roles):
            await refusals.record_alone(services, actor, cmd.usage)
            refusal = f"Only some roles may use **{cmd.usage}**, and yours is not one."
            return [Reply(text=f"{refusal} {cmd.refusal}" if cmd.refusal else refusal)]
        return await cmd.handler(services, actor, match)
    if not typed:
        return [welcome(actor)]
    return [Reply(text=f'I don\'t know "{typed[:60]}". Type **help** to see what I can do.')]


@command(r"help|\?|commands", "help", "what I can do for you, given your roles")
async def _help(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    commands = [c.help() for c in available_to(actor.roles)]
    return [Reply(card=help_card(role_labels(actor.roles), commands), summary="Help")]


GREETING = re.compile(r"hello|hi|hey|start|menu", re.IGNORECASE)


def is_greeting(typed: str) -> bool:
    return GREETING.fullmatch(typed.strip()) is not None


@command(GREETING.pattern, "hello", "show the welcome card again")
async def _hello(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    return [welcome(actor)]
