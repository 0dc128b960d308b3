"""Text commands typed in Teams, who may use them, and where each one goes."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from cards import report as report_cards
from cards.elements import Element, im_back, open_dialog
from cards.welcome import CommandHelp, help_card, suggestion_card, welcome_card
from dialogs import notify, refusals
from dialogs.turn import Actor, Reply, Services
from policy.roles import ROLE_LABELS, Roles
from storage import outbox

Handler = Callable[[Services, Actor, re.Match[str]], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    pattern: re.Pattern[str]
    usage: str
    summary: str
    handler: Handler
    allowed: Callable[[Roles], bool] = lambda roles: True
    refusal: str | None = None  # who may, in words, for someone who may not
    phrases: tuple[str, ...] = ()  # what people type meaning this, for suggestions
    button: str | None = None  # a button on the welcome and help cards, sending `usage`
    listed: bool = True  # in help; "thanks" is answered but not offered
    private: bool = False  # answered in the person's 1:1 chat, never where others read it

    def help(self) -> CommandHelp:
        return CommandHelp(self.usage, self.summary)

    @property
    def complete(self) -> bool:
        """Whether `usage` is itself a command (not `check <name>` or `appeal INC-...`)."""
        return self.pattern.fullmatch(self.usage) is not None

    @property
    def keyword(self) -> str:
        return re.split(r"\s+(?:<|INC-|\.\.\.)", self.usage)[0]


_COMMANDS: list[Command] = []


def command(
    pattern: str,
    usage: str,
    summary: str,
    *,
    allowed: Callable[[Roles], bool] | None = None,
    refusal: str | None = None,
    phrases: tuple[str, ...] = (),
    button: str | None = None,
    listed: bool = True,
    private: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler for text matching `pattern` (whole message, case-insensitive)."""

    def register(handler: Handler) -> Handler:
        cmd = Command(
            re.compile(pattern, re.IGNORECASE | re.DOTALL),
            usage,
            summary,
            handler,
            allowed or (lambda roles: True),
            refusal,
            phrases,
            button,
            listed,
            private,
        )
        _COMMANDS.append(cmd)
        # Refusals record a command by these names, and nothing typed beyond them.
        refusals.know(cmd.usage, cmd.keyword)
        return handler

    return register


def available_to(roles: Roles) -> list[Command]:
    return [c for c in _COMMANDS if c.allowed(roles)]


def _listed(roles: Roles) -> list[CommandHelp]:
    return [c.help() for c in available_to(roles) if c.listed]


def _buttons(roles: Roles, *, leave_out: str = "") -> list[Element]:
    """The report form's button, then one for each command this person may use that has one (a
    card shows at most six)."""
    offered = [c for c in available_to(roles) if c.button and c.usage != leave_out]
    offered.sort(key=lambda c: c.usage == "help")  # help last
    quick = [im_back(c.button, c.usage) for c in offered if c.button]
    return [open_dialog(report_cards.DIALOG_TITLE, {"action": report_cards.OPEN_ACTION}), *quick][:6]


# rapidfuzz's token_set_ratio, 0 to 100: words in any order, each forgiving of typos ("reprot" is
# 83 from "report", "I want to report someone" 100). WRatio was tried and is too forgiving: "make
# me a sandwich" was 86 from "add a note".
SUGGEST_SCORE = 78
SUGGEST_SPREAD = 10  # also suggest commands nearly as close as the best
SUGGEST_MOST = 3


def suggestions(roles: Roles, typed: str) -> list[Command]:
    """The commands this person may use that `typed` most likely meant, best first. Only their
    own: staff are never offered a keeper's command."""
    choices: dict[str, Command] = {}
    for cmd in available_to(roles):
        if cmd.listed:
            for phrase in (cmd.keyword, *cmd.phrases):
                choices.setdefault(phrase, cmd)
    found = process.extract(
        typed,
        list(choices),
        scorer=fuzz.token_set_ratio,
        processor=utils.default_process,
        score_cutoff=SUGGEST_SCORE,
        limit=None,  # every close phrase: several may be one command's
    )
    best: dict[int, tuple[float, Command]] = {}
    for phrase, score, _ in found:
        cmd = choices[phrase]
        if id(cmd) not in best or best[id(cmd)][0] < score:
            best[id(cmd)] = (score, cmd)
    ranked = sorted(best.values(), key=lambda pair: -pair[0])
    return [cmd for score, cmd in ranked if score >= ranked[0][0] - SUGGEST_SPREAD][:SUGGEST_MOST]


def _not_understood(roles: Roles, typed: str) -> Reply:
    likely = suggestions(roles, typed)
    buttons = [im_back(c.button or c.usage.capitalize(), c.usage) for c in likely if c.complete]
    help_button = im_back("Help", "help")
    return Reply(
        card=suggestion_card(typed[:60], [c.help() for c in likely], [*buttons, help_button][:6]),
        summary="Did you mean…" if likely else "Type help to see what I can do",
    )


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
    return Reply(
        card=welcome_card(
            actor.display_name, role_labels(actor.roles), _listed(actor.roles), _buttons(actor.roles)
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
        replies = await cmd.handler(services, actor, match)
        if cmd.private and actor.shared:
            return await _in_private(services, actor, replies)
        return replies
    if not typed:
        return [welcome(actor)]
    return [_not_understood(actor.roles, typed)]


SENT_PRIVATELY = (
    "I have sent my answer to our 1:1 chat: answers about customers and the register are not "
    "posted where others can read them."
)


async def _in_private(services: Services, actor: Actor, replies: list[Reply]) -> list[Reply]:
    """Queue the answers to the person's 1:1 chat; the channel or group is told only that."""
    now = services.clock()
    async with services.sessions() as session:
        for reply in replies:
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=actor.person_id),
                notify.reply_message(reply),
                purpose="answer.private",
                now=now,
            )
        await session.commit()
    services.outbox_written()
    return [Reply(text=SENT_PRIVATELY)]


@command(
    r"help|\?|commands",
    "help",
    "what I can do for you, given your roles",
    phrases=("what can you do", "what do you do", "how does this work", "options", "instructions"),
    button="Help",
)
async def _help(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    card = help_card(role_labels(actor.roles), _listed(actor.roles), _buttons(actor.roles, leave_out="help"))
    return [Reply(card=card, summary="Help")]


GREETING = re.compile(r"hello|hi|hey|start|menu", re.IGNORECASE)


def is_greeting(typed: str) -> bool:
    return GREETING.fullmatch(typed.strip()) is not None


@command(GREETING.pattern, "hello", "show the welcome card again", phrases=("good morning", "good afternoon"))
async def _hello(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    return [welcome(actor)]


THANKS = r"(?:many\s+|great,?\s+|ok,?\s+)?(?:thanks|thank\s*you|thx|ta|cheers)\b.*"


@command(THANKS, "thanks", "", listed=False)
async def _thanks(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    return [Reply(text="You're welcome. Type **help** whenever you need me.")]
