"""The pieces every card is made of (Adaptive Cards 1.5, as Teams renders them)."""

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

Element = dict[str, Any]
Card = dict[str, Any]

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
# Teams refuses a bot message over 40 KB counted as UTF-16 (413 MessageSizeTooBig; newer pages
# say 100 KB, keep within 80): a card keeps within 36 KB, leaving the rest for the activity.
MESSAGE_LIMIT_UTF16 = 40 * 1024
CARD_BUDGET_UTF16 = 36 * 1024
CUT = " … (cut to fit Teams' message size; the register holds it all)"


def card(
    body: Iterable[Element | None],
    actions: Iterable[Element | None] = (),
    *,
    refresh: Element | None = None,
) -> Card:
    built: Card = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": [e for e in body if e is not None],
        "msteams": {"width": "Full"},
    }
    listed = [a for a in actions if a is not None]
    if listed:
        built["actions"] = listed
    if refresh is not None:
        built["refresh"] = refresh
    return within_budget(built)


def utf16_size(payload: Any) -> int:
    """An upper bound on a card's or message's size as Teams counts it: JSON with non-ASCII
    escaped is never shorter than its characters, each two bytes in UTF-16; Base64 images (the
    stats chart) are not counted, as Teams does not count them."""
    return 2 * (len(json.dumps(payload)) - sum(len(image) for image in base64_images(payload)))


def base64_images(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        if node.startswith("data:image/"):
            yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from base64_images(value)
    elif isinstance(node, list):
        for item in node:
            yield from base64_images(item)


def _texts(node: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """Every TextBlock's text and FactSet value, where the long things people wrote are."""
    if isinstance(node, dict):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            yield node, "text"
        elif node.get("type") == "FactSet":
            facts = node.get("facts", [])
            yield from ((fact, "value") for fact in facts if isinstance(fact.get("value"), str))
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def within_budget(built: Card, budget: int = CARD_BUDGET_UTF16) -> Card:
    """The card, its longest texts cut to one common length if that is what it takes to keep a
    notification from being refused as too large; short texts are never touched."""
    excess = (utf16_size(built) - budget) // 2
    if excess <= 0:
        return built
    found = list(_texts(built))
    lengths = sorted((len(node[key]) for node, key in found), reverse=True)
    # The longest length to cut to that saves enough, counting the note each cut text gains.
    keep = 0
    for candidate in range(lengths[0] if lengths else 0, 0, -50):
        cut = [n for n in lengths if n > candidate + len(CUT)]
        if sum(n - candidate - len(CUT) for n in cut) >= excess:
            keep = candidate
            break
    for node, key in found:
        if len(node[key]) > keep + len(CUT):
            node[key] = node[key][:keep].rstrip() + CUT
    return built


# A word joiner: invisible, but it stops Teams recognising what it splits.
_JOIN = "\u2060"
_SCHEME = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]{0,30}):(?=/)")
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)
_AT = re.compile(r"<(/?)(at)\b", re.IGNORECASE)
_SCHEME_JOINED = rf"\1:{_JOIN}"
_WWW_JOINED = rf"\1{_JOIN}."


def inert(value: str) -> str:
    """Text from people, shown as text: Teams renders a card's text as Markdown, and what a
    customer said, or a report about them, must not carry a link, a mention or a button-like link
    into a manager's card. The words stay readable; only what would make them active is split."""
    # Each step runs only if its value holds a character the step needs to find anything (a
    # card has dozens of texts, most of them plain): the same result, without the regex passes.
    if "]" in value:
        value = value.replace("](", "] (").replace("]:", "] :")  # inline links, reference links
    if ":/" in value:
        value = _SCHEME.sub(_SCHEME_JOINED, value)  # https://… and other schemes, autolinked or not
    if "." in value and ("w" in value or "W" in value):
        value = _WWW.sub(_WWW_JOINED, value)  # www.… is linked without a scheme
    if "<" in value:
        value = _AT.sub(r"‹\1\2", value)  # <at>name</at> is how Teams marks a mention
    if "{{" in value:
        value = value.replace("{{", "{" + _JOIN + "{")  # {{DATE(…)}} and {{TIME(…)}} are evaluated
    return value


def heading(text: str, *, size: str = "Large", color: str | None = None) -> Element:
    element: Element = {
        "type": "TextBlock",
        "text": inert(text),
        "size": size,
        "weight": "Bolder",
        "wrap": True,
        "style": "heading",
    }
    if color:
        element["color"] = color
    return element


def text(
    value: str,
    *,
    subtle: bool = False,
    color: str | None = None,
    weight: str | None = None,
    size: str | None = None,
    spacing: str | None = None,
) -> Element:
    element: Element = {"type": "TextBlock", "text": inert(value), "wrap": True}
    if subtle:
        element["isSubtle"] = True
    for key, option in (("color", color), ("weight", weight), ("size", size), ("spacing", spacing)):
        if option:
            element[key] = option
    return element


def bullets(items: Iterable[str]) -> Element:
    return text("\n".join(f"- {item}" for item in items))


def facts(pairs: Iterable[tuple[str, str | None]]) -> Element | None:
    listed = [{"title": k, "value": inert(v)} for k, v in pairs if v]
    return {"type": "FactSet", "facts": listed} if listed else None


def container(items: Iterable[Element | None], *, style: str | None = None) -> Element:
    element: Element = {"type": "Container", "items": [i for i in items if i is not None]}
    if style:
        element["style"] = style
    return element


def submit(title: str, data: dict[str, Any], *, style: str | None = None) -> Element:
    action: Element = {"type": "Action.Submit", "title": title, "data": data}
    if style:
        action["style"] = style
    return action


def open_dialog(title: str, data: dict[str, Any]) -> Element:
    """A button that opens a Teams dialog (task module) with `task/fetch`."""
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {**data, "msteams": {"type": "task/fetch"}},
    }


def im_back(title: str, value: str) -> Element:
    """A button that sends `value` as if the person typed it (Teams' imBack): every command the
    bot knows works from a card this way, and the chat shows what was asked."""
    return {"type": "Action.Submit", "title": title, "data": {"msteams": {"type": "imBack", "value": value}}}


def open_form(title: str, verb: str, data: dict[str, Any]) -> Element:
    """A card button opening `verb`'s form in a dialog: the card stays as it was, and what is typed
    in the dialog is out of reach of the card's refresh."""
    return open_dialog(title, {"verb": verb, **data})


def dialog_submit(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> Element:
    """A button inside a dialog: Teams sends its inputs with `verb` as `task/submit`."""
    return submit(title, {"verb": verb, **data}, style=style)


CANCEL_VERB = "dialog.cancel"


def dialog_cancel() -> Element:
    """Closes the dialog and records nothing; the inputs are not checked or sent."""
    return {**submit("Cancel", {"verb": CANCEL_VERB}), "associatedInputs": "none"}


def execute(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> Element:
    """A Universal Action: Teams sends it to the bot as an `adaptiveCard/action` invoke."""
    action: Element = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    if style:
        action["style"] = style
    return action


def choice_set(
    input_id: str,
    label: str,
    choices: Sequence[tuple[str, str]],
    *,
    value: str | Sequence[str] | None = None,
    multi: bool = False,
    required: bool = False,
    expanded: bool = False,
    error: str | None = None,
) -> Element:
    element: Element = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "choices": [{"title": title, "value": v} for v, title in choices],
        "isMultiSelect": multi,
        "style": "expanded" if expanded else "compact",
        "wrap": True,
    }
    if value:
        element["value"] = value if isinstance(value, str) else ",".join(value)
    return _validated(element, required, error)


def open_url_button(title: str, url: str) -> Element:
    """A button in the card's body opening a link of the bot's own making (never one from a
    person's words): a set of one, so it leaves the card's own actions as they are."""
    return {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": title, "url": url}]}


def text_input(
    input_id: str,
    label: str,
    *,
    value: str | None = None,
    multiline: bool = False,
    max_length: int | None = None,
    required: bool = False,
    placeholder: str | None = None,
    error: str | None = None,
) -> Element:
    element: Element = {"type": "Input.Text", "id": input_id, "label": label}
    if multiline:
        element["isMultiline"] = True
    if max_length:
        element["maxLength"] = max_length
    if placeholder:
        element["placeholder"] = placeholder
    if value:
        element["value"] = value
    return _validated(element, required, error)


def toggle(input_id: str, title: str, *, value: bool = False) -> Element:
    return {
        "type": "Input.Toggle",
        "id": input_id,
        "title": title,
        "value": "true" if value else "false",
        "valueOn": "true",
        "valueOff": "false",
        "wrap": True,
    }


def date_input(
    input_id: str,
    label: str,
    *,
    value: str | None = None,
    required: bool = False,
    error: str | None = None,
    max_value: str | None = None,
) -> Element:
    element: Element = {"type": "Input.Date", "id": input_id, "label": label}
    if value:
        element["value"] = value
    if max_value:
        element["max"] = max_value
    return _validated(element, required, error)


def time_input(
    input_id: str,
    label: str,
    *,
    value: str | None = None,
    required: bool = False,
    error: str | None = None,
) -> Element:
    element: Element = {"type": "Input.Time", "id": input_id, "label": label}
    if value:
        element["value"] = value
    return _validated(element, required, error)


def _validated(element: Element, required: bool, error: str | None) -> Element:
    if required:
        element["isRequired"] = True
        element.setdefault("errorMessage", f"{element['label']} is required")
    if error:
        # A server-side refusal, shown beside the field when the step is shown again.
        element["errorMessage"] = error
    return element


def field_error(message: str) -> Element:
    return text(message, color="Attention", size="Small", spacing="None")
