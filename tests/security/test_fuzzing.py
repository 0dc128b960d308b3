"""Property-based fuzzing of every handler: whatever arrives, a 2xx with a message or a 4xx, never a
server error, the process still answering, and the register untouched by what was refused.

The sender is a member of staff who reported nothing and holds no role, in a register with a
decided, restricted and appealed incident of someone else's: nothing they can send is allowed to
change it, so every example must leave the register exactly as it was.
"""

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.security.conftest import snapshot
from tests.support import teams
from tests.support.clock import FakeClock
from tests.support.connector import RecordingConnector
from tests.support.dialog import button, decide, dialog_card, log_appeal
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, KIM, SAM, Person
from tests.test_decide import ACTIVE

MALLORY = Person.called("Mallory Staff", "mallory.staff@council.example")
DRAFT = "<Mallory's own open draft>"  # replaced by the token of a report she has started

# Strings meant to hurt: control characters, NUL, lone surrogates (valid JSON escapes, invalid
# UTF-8), right-to-left overrides, markup, SQL, and sizes well past every column.
NASTY = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "\ud800",
        "\udfff trailing",
        "\u202e\u202d",
        "\x0b\x0c\x1b[31m",
        "'; DROP TABLE incidents; --",
        "<at>Amy Manager</at>",
        "[Approve](https://evil.example)",
        "{{DATE(2017-02-14T06:08:00Z,SHORT)}}",
        "INC-2026-00001",
        "x" * 70_000,
        "9" * 40,
        "-1",
        "1.5",
    ]
)
TEXT = st.one_of(st.text(max_size=300), NASTY)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JUNK = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
IDS = st.one_of(st.integers(min_value=-3, max_value=6), st.sampled_from(["1", "2", "01", " 1", "1e3"]), JUNK)

VERBS = st.sampled_from(
    [
        "incident.refresh",
        "decision.form",
        "decision.submit",
        "letter.link",
        "letter.sent",
        "letter.not_appropriate",
        "review.form",
        "review.submit",
        "review.refresh",
        "restriction.reinstate",
        "restriction.reinstate_form",
        "appeal.form",
        "appeal.log",
        "appeal.refresh",
        "appeal.outcome_form",
        "appeal.outcome",
        "appeal.letter_link",
        "appeal.letter_sent",
        "customer.record",
    ]
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "incident": IDS,
        "restriction": IDS,
        "appeal": IDS,
        "letter": IDS,
        "customer": IDS,
        "kind": st.one_of(st.sampled_from(["no_further_action", "active_management"]), JUNK),
        "outcome": st.one_of(st.sampled_from(["upheld", "varied", "overturned", "lift", "vary"]), JUNK),
        "reasons": JUNK,
        "due": JUNK,
        "against": st.one_of(
            st.sampled_from(["decision", "immediate_action", "decision:1", "immediate_action:1", "appeal:1"]),
            JUNK,
        ),
        "large": JUNK,
    },
)


def _message(text: Any) -> dict[str, Any]:
    return {"kind": "message", "text": text}


ACTIVITIES = st.one_of(
    st.builds(_message, TEXT),
    # Commands with junk after them: the parts of each command that take the sender's words.
    st.builds(
        lambda command, words: _message(command + words),
        st.sampled_from(["add to INC-2026-00001 ", "check ", "appeal INC-2026-00001", "report ", "stats "]),
        TEXT,
    ),
    st.builds(lambda t: {"kind": "message", "text": t}, JUNK),
    st.builds(lambda v: {"kind": "submit", "value": v}, JUNK),
    st.builds(lambda v: {"kind": "invoke", "name": "task/fetch", "value": v}, JUNK),
    st.builds(
        lambda d: {"kind": "invoke", "name": "task/fetch", "value": {"data": d}},
        st.one_of(JUNK, st.fixed_dictionaries({"action": st.just("report.open"), "fresh": JUNK})),
    ),
    st.builds(
        lambda d, go, step, extra: {
            "kind": "invoke",
            "name": "task/submit",
            "value": {"data": {**extra, "action": "report.step", "draft": d, "go": go, "step": step}},
        },
        st.one_of(st.just(DRAFT), JUNK),
        st.one_of(st.sampled_from(["search", "back", "next", "send"]), JUNK),
        st.one_of(st.sampled_from(["customer", "what", "behaviour", "action", "check"]), JUNK),
        st.dictionaries(
            st.one_of(
                TEXT, st.sampled_from(["customer_query", "new_name", "new_email", "description", "reasons"])
            ),
            JUNK,
            max_size=4,
        ),
    ),
    st.builds(
        lambda verb, data: {
            "kind": "invoke",
            "name": "adaptiveCard/action",
            "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}},
        },
        st.one_of(VERBS, JUNK),
        st.one_of(FIELDS, JUNK),
    ),
    st.builds(lambda v: {"kind": "invoke", "name": "adaptiveCard/action", "value": v}, JUNK),
    # The forms and the full record, opened and stepped in dialogs.
    st.builds(
        lambda name, verb, data: {
            "kind": "invoke",
            "name": name,
            "value": {"data": {**data, "verb": verb} if isinstance(data, dict) else data},
        },
        st.sampled_from(["task/fetch", "task/submit"]),
        st.one_of(VERBS, st.just("dialog.cancel"), JUNK),
        st.one_of(FIELDS, JUNK),
    ),
    st.builds(
        lambda command, payload: {
            "kind": "invoke",
            "name": "composeExtension/fetchTask",
            "value": {"commandId": command, "messagePayload": payload},
        },
        st.one_of(st.just("reportAsIncident"), JUNK),
        st.one_of(
            JUNK,
            st.fixed_dictionaries(
                {"body": st.fixed_dictionaries({"content": JUNK}), "createdDateTime": JUNK}
            ),
        ),
    ),
    st.builds(
        lambda command, data: {
            "kind": "invoke",
            "name": "composeExtension/submitAction",
            "value": {"commandId": command, "data": data},
        },
        st.one_of(st.just("reportAsIncident"), JUNK),
        st.one_of(JUNK, st.fixed_dictionaries({"action": st.just("report.step"), "draft": JUNK, "go": JUNK})),
    ),
    st.builds(lambda name, v: {"kind": "invoke", "name": name, "value": v}, TEXT, JUNK),
)
# Whole activities with parts of the envelope replaced by junk.
ENVELOPES = st.dictionaries(
    st.sampled_from(
        ["from", "conversation", "recipient", "channelData", "entities", "text", "value", "name"]
    ),
    JUNK,
    min_size=1,
    max_size=3,
)


class Council:
    """The bot on its own event loop, so Hypothesis (which is synchronous) can drive it."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.connector = RecordingConnector()
        self.bot = BotHarness(database_url, self.connector, FakeClock(), tenant_id=teams.TENANT_ID)

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    async def start(self) -> None:
        await self.connector.start()
        await self.bot.start()
        await self.bot.import_roles()
        for person in (AMY, CATH, KIM, SAM, MALLORY):
            await self.bot.say(person, "hi")
        self.connector.clear()
        reference = await report(self.bot, SAM)
        await self.bot.deliver()
        (notice,) = [s for s in self.connector.to(AMY.chat_id) if s.method == "POST"]
        await decide(self.bot, AMY, notice.card, "Active management", **ACTIVE)
        await log_appeal(self.bot, CATH, reference, against="decision", grounds="Unfair.")
        status, opened = await self.bot.invoke(MALLORY, "task/fetch", {"data": {"action": "report.open"}})
        assert status == 200
        self.draft = button(dialog_card(opened), "Next")["draft"]
        self.connector.clear()

    async def stop(self) -> None:
        await self.bot.stop()
        await self.connector.stop()


@pytest.fixture
def council(database_url: str) -> Iterator[Council]:
    council = Council(database_url)
    try:
        council.run(council.start())
        yield council
    finally:
        council.run(council.stop())
        council.loop.close()


def _activity(council: Council, spec: dict[str, Any]) -> dict[str, Any]:
    url = council.connector.url
    if spec["kind"] == "message":
        activity = teams.message(MALLORY, url, "")
        activity["text"] = spec["text"]
        return activity
    if spec["kind"] == "submit":
        return teams.card_submit(MALLORY, url, spec["value"])
    activity = teams.invoke(MALLORY, url, spec["name"], {})
    data = spec["value"].get("data") if isinstance(spec["value"], dict) else None
    if isinstance(data, dict) and data.get("draft") == DRAFT:
        spec = {**spec, "value": {**spec["value"], "data": {**data, "draft": council.draft}}}
    activity["value"] = spec["value"]
    return activity


def _assert_answered(status: int, body: Any, spec: dict[str, Any]) -> None:
    assert status < 500, (status, body)
    if status >= 400:
        return
    if spec["kind"] == "invoke":
        # Teams shows an invoke's answer: it must be something a person can read.
        assert status == 200, status
        data = spec["value"].get("data") if isinstance(spec["value"], dict) else None
        if spec["name"] == "task/submit" and isinstance(data, dict) and data.get("verb") == "dialog.cancel":
            assert body is None  # Cancel closes the dialog without a word, as Teams documents
            return
        assert isinstance(body, dict) and ("task" in body or "statusCode" in body), body


UNSTORABLE_IN_A_DRAFT = {
    "kind": "invoke",
    "name": "task/submit",
    "value": {
        "data": {
            "action": "report.step",
            "draft": DRAFT,
            "go": "next",
            "step": "customer",
            "customer_id": "new",
            "new_name": "Pat\x00 \ud800Jones\x0b",
        }
    },
}


@given(spec=ACTIVITIES)
@example(spec=UNSTORABLE_IN_A_DRAFT)
def test_no_handler_fails_on_any_input_and_nothing_refused_is_stored(council, spec, caplog):
    before = council.run(snapshot(council.bot))
    with caplog.at_level(logging.ERROR):
        caplog.clear()
        status, body = council.run(council.bot.post(_activity(council, spec)))
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    _assert_answered(status, body, spec)
    assert not failures, [(r.getMessage(), getattr(r, "error", None)) for r in failures]
    assert council.run(snapshot(council.bot)) == before
    assert council.run(council.bot.get("/healthz"))[0] == 200


@given(spec=ACTIVITIES, envelope=ENVELOPES)
@example(spec={"kind": "message", "text": "help"}, envelope={"entities": [None]})
@example(spec={"kind": "message", "text": "help"}, envelope={"entities": [{"type": None}]})
@example(
    spec={"kind": "message", "text": "help"}, envelope={"type": "conversationUpdate", "membersAdded": [1]}
)
def test_a_broken_envelope_is_a_4xx_or_handled_never_a_server_error(council, spec, envelope, caplog):
    activity = {**_activity(council, spec), **envelope}
    before = council.run(snapshot(council.bot))
    with caplog.at_level(logging.ERROR):
        caplog.clear()
        status, body = council.run(council.bot.post(activity))
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert status < 500, (status, body)
    assert not failures, [(r.getMessage(), getattr(r, "error", None)) for r in failures]
    assert council.run(snapshot(council.bot)) == before
    assert council.run(council.bot.get("/healthz"))[0] == 200
