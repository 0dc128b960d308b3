"""Bot Framework activities to and from JSON without msrest's general-purpose (de)serializer.

msrest walks every attribute through type-name dispatch, validation and key transformers: about a
millisecond for one activity with a card, on the event loop, twice a turn. The schema's models
are plain (no flattened keys, no polymorphism), so their attribute maps are walked directly here.
Anything these functions do not recognise exactly (a string where a number belongs, bytes, a
date) is handed back to msrest, so unusual input is treated as the SDK treats it.
"""

import copy
import datetime
import enum
from typing import Any

import botbuilder.schema
import botbuilder.schema.teams
from botbuilder.schema import Activity
from msrest.serialization import Deserializer, Model, Serializer

_MODELS: dict[str, type[Model]] = {
    name: value
    for module in (botbuilder.schema, botbuilder.schema.teams)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, Model)
}
# Each model's JSON keys, with the attribute and type each fills: an activity names a dozen of
# its forty-odd fields, so the walk goes over what arrived, not over the schema.
_FIELDS = {
    name: {info["key"]: (attribute, info["type"]) for attribute, info in model._attribute_map.items()}
    for name, model in _MODELS.items()
}
_SPECIAL = {
    name
    for name, model in _MODELS.items()
    if any(rule.get("readonly") or rule.get("constant") for rule in model._validation.values())
    or "additional_properties" in model._attribute_map
}
_SERIALIZER = Serializer(_MODELS)
_DESERIALIZER = Deserializer(_MODELS)


class OutgoingActivity(Activity):
    """An activity the bot built to send, and that nothing else holds.

    The SDK deep-copies every activity before addressing it, so that a caller's object is left
    as it was; addressing only assigns attributes, so a shallow copy does the same. The deep copy,
    of every attribute and the whole card, was a tenth of a message turn.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> "OutgoingActivity":
        return copy.copy(self)


class _Unusual(Exception):
    """Something msrest may treat in its own way: let it."""


def _out(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Model):
        serialized = {}
        for attribute, info in type(value)._attribute_map.items():
            item = getattr(value, attribute, None)
            if item is not None:
                serialized[info["key"]] = _iso(item) if info["type"] == "iso-8601" else _out(item)
        return serialized
    if isinstance(value, enum.Enum) and isinstance(value.value, str):
        return value.value
    if type(value) is dict:
        return {str(k): _out(v) for k, v in value.items()}
    if type(value) is list:
        return [_out(v) for v in value]
    raise _Unusual


def _iso(value: Any) -> str:
    if not isinstance(value, datetime.datetime):
        raise _Unusual
    return Serializer.serialize_iso(value)


def activity_to_json(activity: Activity) -> dict[str, Any]:
    """What msrest's `Serializer.body(activity, "Activity")` makes of an outgoing activity."""
    try:
        return _out(activity)
    except _Unusual:
        return _SERIALIZER.body(activity, "Activity")


def _in(data: Any, kind: str) -> Any:
    if data is None:
        return None
    if kind == "str":
        if type(data) is not str:
            raise _Unusual
        return data
    if kind == "object":
        if isinstance(data, dict | list | str | int | float | bool):
            return data
        raise _Unusual
    if kind == "bool":
        if type(data) is not bool:
            raise _Unusual
        return data
    if kind in ("int", "long"):
        if type(data) is not int:
            raise _Unusual
        return data
    if kind == "float":
        if type(data) not in (int, float):
            raise _Unusual
        return float(data)
    if kind == "iso-8601":
        if type(data) is str and len(data) >= 19 and data[10] == "T":
            try:  # Teams' own form, e.g. 2026-11-23T10:00:00.1234567Z: the same value msrest gives
                return datetime.datetime.fromisoformat(data)
            except ValueError:
                pass
        return _DESERIALIZER.deserialize_data(data, kind)
    if kind[0] == "[" and kind[-1] == "]":
        if type(data) is not list:
            raise _Unusual
        return [_in(item, kind[1:-1]) for item in data]
    if kind[0] == "{" and kind[-1] == "}":
        if type(data) is not dict:
            raise _Unusual
        return {key: _in(item, kind[1:-1]) for key, item in data.items()}
    model = _MODELS.get(kind)
    if model is None or type(data) is not dict or kind in _SPECIAL:
        raise _Unusual  # bytes, read-only or constant fields: msrest's own rules apply
    fields = _FIELDS[kind]
    values = {}
    extra = {}
    for key, item in data.items():
        field = fields.get(key)
        if field is None:
            extra[key] = item
        else:
            values[field[0]] = _in(item, field[1])
    made = model(**values)
    # As msrest does, keys the schema does not name are kept (Teams' mention entities need them).
    if extra:
        made.additional_properties = extra
    return made


def activity_from_json(payload: dict[str, Any]) -> Activity:
    """What `Activity().deserialize(payload)` makes of an incoming activity (which may raise)."""
    try:
        return _in(payload, "Activity")
    except Exception:  # whatever the fast path cannot take, msrest decides: accept, coerce or raise
        return Activity().deserialize(payload)
