"""Driving a Teams dialog (task module) as Teams does: fetch, then submit each card's inputs."""

from typing import Any

from tests.support.harness import BotHarness
from tests.support.teams import Person


def dialog_card(response: dict[str, Any]) -> dict[str, Any]:
    task = response["task"]
    assert task["type"] == "continue", task
    attachment = task["value"]["card"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in walk(card.get("body", [])) if str(e.get("type", "")).startswith("Input.")}


def values(card: dict[str, Any]) -> dict[str, str]:
    """What the card would send back untouched: each input's current value."""
    return {k: e.get("value", "") for k, e in inputs(card).items()}


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    for action in walk(card.get("actions", [])):
        if action.get("title") == title and "data" in action:
            return action["data"]
    raise AssertionError(f"no button {title!r} on the card")


def texts(card: dict[str, Any]) -> str:
    found = []
    for e in walk(card):
        for key in ("text", "title", "value", "label", "errorMessage"):
            if isinstance(e.get(key), str):
                found.append(e[key])
    return "\n".join(found)


def errors(card: dict[str, Any]) -> list[str]:
    return [
        e["text"]
        for e in walk(card.get("body", []))
        if e.get("color") == "Attention" and e.get("size") == "Small"
    ]


class Dialog:
    """One person's dialog in progress."""

    def __init__(self, harness: BotHarness, person: Person, *, message_action: bool = False) -> None:
        self.harness = harness
        self.person = person
        self.message_action = message_action
        self.card: dict[str, Any] = {}
        self.closed: dict[str, Any] | None = None
        self.status = 0

    async def open(
        self, data: dict[str, Any] | None = None, message: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if self.message_action:
            value = {
                "commandId": "reportAsIncident",
                "commandContext": "message",
                "context": {"theme": "default"},
                "messagePayload": message or {},
            }
            self.status, response = await self.harness.invoke(
                self.person, "composeExtension/fetchTask", value
            )
        else:
            data = data or {"action": "report.open", "msteams": {"type": "task/fetch"}}
            self.status, response = await self.harness.invoke(
                self.person, "task/fetch", {"data": data, "context": {"theme": "default"}}
            )
        assert self.status == 200
        self.card = dialog_card(response)
        return self.card

    async def press(self, title: str, **changes: Any) -> dict[str, Any] | None:
        """Change some inputs, press a button; returns the next card, or None if it closed."""
        data = {**values(self.card), **changes, **button(self.card, title)}
        return await self.send(data)

    async def send(self, data: dict[str, Any]) -> dict[str, Any] | None:
        if self.message_action:
            value = {
                "commandId": "reportAsIncident",
                "commandContext": "message",
                "data": data,
                "context": {"theme": "default"},
            }
            self.status, response = await self.harness.invoke(
                self.person, "composeExtension/submitAction", value
            )
        else:
            self.status, response = await self.harness.invoke(
                self.person, "task/submit", {"data": data, "context": {"theme": "default"}}
            )
        assert self.status == 200, response
        if response and response.get("task", {}).get("type") == "continue":
            self.card = dialog_card(response)
            self.closed = None
            return self.card
        self.closed = response or {}
        return None

    @property
    def token(self) -> str:
        return button(self.card, next(t for t in ("Next", "Send") if _has(self.card, t)))["draft"]

    @property
    def closing_message(self) -> str | None:
        if self.closed and "task" in self.closed:
            return self.closed["task"]["value"]
        return None


def _has(card: dict[str, Any], title: str) -> bool:
    try:
        button(card, title)
    except AssertionError:
        return False
    return True


def execute_action(card: dict[str, Any], title: str) -> dict[str, Any]:
    for action in walk(card):
        if action.get("type") == "Action.Execute" and action.get("title") == title:
            return action
    raise AssertionError(f"no Action.Execute {title!r} on the card")


async def universal(
    harness: BotHarness, person: Person, verb: str, data: dict[str, Any], trigger: str = "manual"
) -> dict[str, Any]:
    """An `adaptiveCard/action` invoke as Teams sends it; returns the card the bot answered with."""
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": trigger}
    status, response = await harness.invoke(person, "adaptiveCard/action", value)
    assert status == 200, response
    assert response.get("statusCode") == 200, response
    assert response["type"] == "application/vnd.microsoft.card.adaptive"
    return response["value"]


async def press_execute(
    harness: BotHarness, person: Person, card: dict[str, Any], title: str, **inputs: Any
) -> dict[str, Any]:
    """Press an Action.Execute button: Teams sends the card's inputs merged with its data."""
    action = execute_action(card, title)
    data = {**values(card), **inputs, **action.get("data", {})}
    return await universal(harness, person, action["verb"], data)


def dialog_button(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The data of a card button that opens a dialog (`task/fetch`)."""
    for action in walk(card.get("actions", [])):
        data = action.get("data")
        if (
            action.get("type") == "Action.Submit"
            and action.get("title") == title
            and isinstance(data, dict)
            and data.get("msteams", {}).get("type") == "task/fetch"
        ):
            return data
    raise AssertionError(f"no dialog button {title!r} on the card")


async def open_from(harness: BotHarness, person: Person, card: dict[str, Any], title: str) -> Dialog:
    """Press a card button that opens a dialog, as Teams does: `task/fetch` with its data."""
    dialog = Dialog(harness, person)
    dialog.status, response = await harness.invoke(
        person, "task/fetch", {"data": dialog_button(card, title), "context": {"theme": "default"}}
    )
    assert dialog.status == 200, response
    if response and response.get("task", {}).get("type") == "continue":
        dialog.card = dialog_card(response)
    else:
        dialog.closed = response or {}
    return dialog


async def submit_dialog(harness: BotHarness, person: Person, data: dict[str, Any]) -> Dialog:
    """A dialog step sent as Teams would, with whatever data the sender chose (forgeries too)."""
    dialog = Dialog(harness, person)
    await dialog.send(data)
    return dialog


def closing_text(dialog: Dialog) -> str:
    """What the dialog said as it closed, or the card it still shows."""
    return dialog.closing_message or texts(dialog.card)


async def latest_card(harness: BotHarness, person: Person) -> dict[str, Any]:
    """After the outbox has run: the card last sent to or updated in this person's chat."""
    await harness.deliver()
    shown = [s for s in harness.connector.to(person.chat_id) if s.cards]
    assert shown, f"nothing was sent to {person.name}"
    return shown[-1].card


async def decide(
    harness: BotHarness, person: Person, card: dict[str, Any], title: str, **inputs: Any
) -> dict[str, Any]:
    """Open a decision's dialog from the managers' card and record it; returns the person's card as
    the outbox then updates it."""
    form = await open_from(harness, person, card, title)
    assert await form.press("Record decision", **inputs) is None, texts(form.card)
    return await latest_card(harness, person)


def appeal_choice(card: dict[str, Any], against: str) -> str:
    """The log form's choice for `against`: a kind ("decision", "immediate_action", "review",
    "appeal") names the newest offered of that kind, as a person picks it; anything else is sent
    as it is (a forged value, say)."""
    offered = [c["value"] for c in inputs(card).get("against", {}).get("choices", [])]
    return next((v for v in offered if v.startswith(f"{against}:")), against)


async def log_appeal(harness: BotHarness, person: Person, reference: str, **fields: Any) -> str:
    """`appeal INC-...`, then its dialog; what the dialog said as it closed, or still shows."""
    (reply,) = await harness.say(person, f"appeal {reference}")
    form = await open_from(harness, person, reply.card, "Log an appeal")
    if "against" in fields:
        fields["against"] = appeal_choice(form.card, fields["against"])
    await form.press("Log appeal", **fields)
    return closing_text(form)
