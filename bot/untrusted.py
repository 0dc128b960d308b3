"""What arrives from Teams, made storable before anything reads it.

JSON may carry characters no register can keep: NUL (PostgreSQL refuses it in text and JSON),
lone surrogates (not encodable as UTF-8), and the other C0 controls a Word document cannot hold.
None of them is something a person typed on purpose, so they are dropped at the edge, once, and
every dialog, the register and every letter downstream see only text they can keep.
"""

import re
from typing import Any

# Tab, line feed and carriage return stay: notes and descriptions have paragraphs.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# How an unstorable character can arrive in JSON bytes: as an escape, \u or the short \b and
# \f (strict parsing refuses raw controls); as a surrogate or U+FFFE/U+FFFF written raw (the
# JSON reader decodes with `surrogatepass`); or in UTF-16 or UTF-32, which the reader also takes
# and whose ASCII has NULs.
_MAY_HOLD_UNSTORABLE = re.compile(rb"\\[ubf]|\xed[\xa0-\xbf]|\xef\xbf[\xbe\xbf]|\x00")


def may_hold_unstorable(body: bytes) -> bool:
    """False when these JSON bytes cannot hold an unstorable character, so `scrub` can be skipped."""
    return _MAY_HOLD_UNSTORABLE.search(body) is not None


def scrub(value: Any) -> Any:
    """The same JSON value with every string (keys too) cleared of unstorable characters."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


# How deeply an activity may nest. Teams' deepest is a card's data inside an invoke, a handful of
# levels; far deeper JSON would take the parser, and everything that walks the activity after it,
# beyond Python's recursion limit (a 500 where a 400 belongs).
MAX_DEPTH = 64


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether this JSON value nests objects and lists more than `limit` deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


# Lists the SDK walks on every turn, assuming each item is an object of the right shape.
_LISTS_OF_OBJECTS = {
    "entities": "type",
    "membersAdded": "id",
    "membersRemoved": "id",
    "attachments": "contentType",
}


def envelope_problem(payload: dict[str, Any]) -> str | None:
    """Why the activity's lists would trip the SDK before any handler runs, or None."""
    for field, key in _LISTS_OF_OBJECTS.items():
        items = payload.get(field)
        if items is None:
            continue
        if not isinstance(items, list) or len(items) > 100:
            return f"{field} must be a short list"
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get(key), str):
                return f"each of {field} must be an object with a {key}"
    return None
