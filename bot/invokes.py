"""Invokes: Teams waits for these in the HTTP response, within five seconds.

Task modules (dialogs) opened from a card or from a message action are routed to the dialog that
owns them; anything else is answered with a clear message rather than an error.
"""

from typing import Any

from botbuilder.core import InvokeResponse

from cards import report as report_cards
from cards.elements import CANCEL_VERB

# Imported for their commands too: records registers `check`, deliveries `undelivered`,
# register_reports `stats`, my_incidents `my incidents`.
from dialogs import (  # noqa: F401
    appeals,
    decide,
    deliveries,
    matching,
    my_incidents,
    oversight,
    permissions,
    records,
    refusals,
    register_reports,
    report,
    reviews,
)
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Services, ShowStep

# Forms opened from a card open in a dialog (`task/fetch`), each step a `task/submit`, both naming
# their verb: the card's refresh cannot reach what is typed in a dialog.
DIALOG_FLOWS = (
    (("decision.", "customer."), decide),
    (("review.", "restriction."), reviews),
    (("appeal.",), appeals),
)

REPORT_MESSAGE_COMMAND = "reportAsIncident"
UNKNOWN = "That action is not one I know. Type help in my chat."
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def task_response(answer: DialogAnswer) -> dict[str, Any] | None:
    if isinstance(answer, ShowStep):
        return {
            "task": {
                "type": "continue",
                "value": {
                    "title": answer.title,
                    "height": "large",
                    "width": "medium",
                    "card": {
                        "contentType": ADAPTIVE_CARD,
                        "content": answer.card,
                    },
                },
            }
        }
    if answer.message is None:
        return None  # an empty answer closes the dialog without a word (Cancel)
    return {"task": {"type": "message", "value": answer.message}}


def _ok(body: dict[str, Any] | None = None) -> InvokeResponse:
    return InvokeResponse(status=200, body=body)


def message(name: str, text: str) -> InvokeResponse:
    """A message instead of what was asked, in the shape this kind of invoke shows one."""
    if name == "adaptiveCard/action":
        return _ok({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text})
    return _ok({"task": {"type": "message", "value": text}})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def _card_dialog(
    services: Services, actor: Actor, verb: str, data: dict[str, Any], *, submitted: bool = False
) -> DialogAnswer:
    if verb == CANCEL_VERB and submitted:
        return CloseDialog()
    if permissions.permission(verb) is None:
        # Nothing reaches a handler without a rule in dialogs/permissions.py.
        await refusals.record_alone(services, actor, verb[:40])
        return CloseDialog(UNKNOWN)
    for prefixes, flow in DIALOG_FLOWS:
        if verb.startswith(prefixes):
            return await flow.on_dialog(services, actor, verb, data)
    return CloseDialog(UNKNOWN)


async def handle(services: Services, actor: Actor, name: str, value: Any) -> InvokeResponse:
    value = _dict(value)
    if name == "task/fetch":
        data = _dict(value.get("data"))
        if data.get("action") == report_cards.OPEN_ACTION:
            answer = await report.open_dialog(services, actor, fresh=bool(data.get("fresh")))
            return _ok(task_response(answer))
        if isinstance(data.get("verb"), str):
            return _ok(task_response(await _card_dialog(services, actor, data["verb"], data)))
    elif name == "task/submit":
        data = _dict(value.get("data"))
        if data.get("action") == report_cards.STEP_ACTION:
            return _ok(task_response(await report.step(services, actor, data)))
        if isinstance(data.get("verb"), str):
            answer = await _card_dialog(services, actor, data["verb"], data, submitted=True)
            return _ok(task_response(answer))
    elif name == "composeExtension/fetchTask":
        if value.get("commandId") == REPORT_MESSAGE_COMMAND:
            prefill = report.prefill_from_message(_dict(value.get("messagePayload")), services)
            return _ok(task_response(await report.open_dialog(services, actor, prefill=prefill)))
    elif name == "composeExtension/submitAction":
        data = _dict(value.get("data"))
        if (
            value.get("commandId") == REPORT_MESSAGE_COMMAND
            and data.get("action") == report_cards.STEP_ACTION
        ):
            answer = await report.step(services, actor, data)
            if isinstance(answer, ShowStep):
                return _ok(task_response(answer))
            # Closing says what happened: the reporter may never have opened the bot's chat, where
            # the confirmation card waits.
            return _ok(task_response(answer))
    elif name == "adaptiveCard/action":
        action = _dict(value.get("action"))
        verb = action.get("verb")
        if isinstance(verb, str) and permissions.permission(verb) is None:
            await refusals.record_alone(services, actor, verb[:40])
            return message(name, UNKNOWN)
        if isinstance(verb, str):
            flow = (
                reviews
                if verb.startswith(("review.", "restriction."))
                else appeals
                if verb.startswith("appeal.")
                else decide
            )
            card = await flow.on_action(services, actor, verb, _dict(action.get("data")))
            return _ok({"statusCode": 200, "type": ADAPTIVE_CARD, "value": card})
        return _ok(
            {
                "statusCode": 400,
                "type": "application/vnd.microsoft.error",
                "value": {"code": "BadRequest", "message": "That card action names no verb."},
            }
        )
    return _ok(
        {
            "task": {
                "type": "message",
                "value": "That action is not one I know. Type help in my chat.",
            }
        }
    )
