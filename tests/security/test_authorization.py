"""Who may do what: every action against every role and the conflicts, through the real endpoint.

One register is built once (a reported, decided and appealed incident, and a second incident a
manager reported), copied for every cell, and each cell is one person trying one action with the
ids a card would carry, or ids they made up. An allowed cell must succeed. A refused cell must say
so clearly, change nothing in the register, and leave a refusal in the audit trail.

The matrix (SECURITY.md has it as a table):

- report, check: everyone in the council's tenant; another tenant is ignored.
- add note: its reporter, the service's managers, the register keepers.
- decide: the service's managers and the keepers, never the reporter (here a manager).
- vary, lift (review): the service's managers and the keepers.
- log appeal: the complaints team, the service's managers, the keepers.
- record appeal outcome: the hearing body, never who decided (here a panel member).
- open full record: the service's managers and the keepers.
- stats, set review group channel: the keepers.
- export, retention, role import: nobody in Teams. They are the server operator's, on the
  command line (`engagement-bot export|retention|roles import`), and Teams offers no way to them.

Along a case's history (`ALONG_THE_CASE`, one table, one test): for each kind of decision a case
can hold (a manager's restorative approach, active management or police/legal; a variation at
review; a reinstatement; an employee's immediate action; the Complaints Review Group's outcome;
the Chief Executive's), who of ten people (the reporter, the service's other manager, the deciding
manager, another service's manager, a review group member, one who took the later step, the Chief
Executive, a keeper, plain staff, the complaints team) may review it, reinstate it, log an appeal
on it, hear that appeal, download its letter and open the customer's full record. Its conflict
rows: the reporter (here a manager on the group) never reviews, reinstates, hears or reads; nobody
hears an appeal on a step they took (decided, varied, reinstated, or heard the stage before); a
restriction overturned on appeal comes back only through the body that heard it.
"""

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from policy.roles import Role
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Appeal, AuditEvent, Customer, Decision, Incident, Letter, Restriction, Review
from storage.models import Person as PersonRow
from tests.security.conftest import snapshot
from tests.support import teams
from tests.support.clock import FakeClock
from tests.support.connector import RecordingConnector
from tests.support.dialog import decide, log_appeal, texts
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, CERI, CHIEF, KIM, SAM, Person
from tests.test_decide import ACTIVE

HAL = Person.called("Hal Manager", "hal.manager@council.example")
WES = Person.called("Wes Waste", "wes.manager@council.example")
# Someone whose organisation installed the app too: not the council's tenant.
OUTSIDER = Person.called("Olly Outside", "olly@elsewhere.example")
OTHER_TENANT = "0000aaaa-0000-4000-8000-0000000e1se0"
TEAM = "19:team-crg@thread.tacv2"
CHANNEL = "19:crg-appeals@thread.tacv2"

ROLES = """
[service_areas.housing]
name = "Housing"
managers = ["amy.manager@council.example", "hal.manager@council.example"]

[service_areas.waste]
name = "Waste and Recycling"
managers = ["wes.manager@council.example"]

[roles]
complaints_review_group = ["ceri.panel@council.example", "amy.manager@council.example"]
chief_executive = ["chief.exec@council.example"]
complaints_team = ["cath.complaints@council.example"]
register_keepers = ["kim.keeper@council.example"]
"""

# Who each is, for the table: Amy decided incident one and reported incident two, and sits on
# the Complaints Review Group, so both conflicts are hers.
PEOPLE = {
    "staff (reporter)": SAM,
    "manager (decider, reporter of two, panel member)": AMY,
    "manager of the service": HAL,
    "manager of another service": WES,
    "register keeper": KIM,
    "complaints team": CATH,
    "review group": CERI,
    "chief executive": CHIEF,
    "another tenant": OUTSIDER,
}
EVERYONE = frozenset(p for p in PEOPLE.values() if p is not OUTSIDER)


@dataclass(frozen=True)
class Scenario:
    database: Path
    incident: int  # reported by Sam, decided by Amy (active management), appealed to the panel
    reference: str
    second: int  # reported by Amy, not yet decided
    customer: int
    restriction: int
    review_due: str
    appeal: int
    letter: int


async def _build(folder: Path) -> Scenario:
    database = folder / "matrix.db"
    url = f"sqlite+aiosqlite:///{database}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    connector = RecordingConnector()
    await connector.start()
    bot = BotHarness(url, connector, FakeClock())
    await bot.start()
    try:
        await bot.import_roles(ROLES)
        for person in EVERYONE:
            await bot.say(person, "hi")
        connector.teams[TEAM] = [KIM.teams_id, CERI.teams_id]  # the group's own team
        status, _ = await bot.post(
            teams.channel_message(
                KIM, connector.url, "set review group channel", team_id=TEAM, channel_id=CHANNEL
            )
        )
        assert status == 201
        connector.clear()
        reference = await report(bot, SAM)
        await bot.deliver()
        (notice,) = [s for s in connector.to(AMY.chat_id) if s.method == "POST"]
        decided = await decide(bot, AMY, notice.card, "Active management", **ACTIVE)
        assert "Decided: Active management" in texts(decided)
        logged = await log_appeal(bot, CATH, reference, against="decision", grounds="Unfair.")
        assert "Logged." in logged
        second = await report(bot, AMY, customer={"customer_query": "pat jones TD6 0SA", "customer_id": "1"})
        assert second
        await bot.deliver()
        first, two = sorted(await bot.rows(Incident), key=lambda i: i.id)
        (restriction,) = await bot.rows(Restriction)
        (appeal,) = await bot.rows(Appeal)
        (letter,) = await bot.rows(Letter)
        (customer,) = await bot.rows(Customer)
        assert restriction.review_due_on is not None
        return Scenario(
            database,
            first.id,
            reference,
            two.id,
            customer.id,
            restriction.id,
            restriction.review_due_on.isoformat(),
            appeal.id,
            letter.id,
        )
    finally:
        await bot.stop()
        await connector.stop()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return asyncio.run(_build(tmp_path_factory.mktemp("matrix")))


@pytest.fixture
async def council(scenario, tmp_path, connector) -> AsyncIterator[BotHarness]:
    shutil.copy(scenario.database, tmp_path / "cell.db")
    bot = BotHarness(
        f"sqlite+aiosqlite:///{tmp_path / 'cell.db'}", connector, FakeClock(), tenant_id=teams.TENANT_ID
    )
    await bot.start()
    bot.meet(KIM, CERI)
    connector.teams[TEAM] = [KIM.teams_id, CERI.teams_id]  # the group's own team, as in _build
    yield bot
    await bot.stop()


# --- sending as someone -------------------------------------------------------------------------


def _from(person: Person, activity: dict[str, Any]) -> dict[str, Any]:
    if person is OUTSIDER:
        activity["channelData"]["tenant"]["id"] = OTHER_TENANT
        activity["conversation"]["tenantId"] = OTHER_TENANT
    return activity


async def _say(bot: BotHarness, person: Person, text: str) -> str:
    bot.meet(person)
    before = len(bot.connector.sent)
    status, _ = await bot.post(_from(person, teams.message(person, bot.connector.url, text)))
    assert status == 201, status
    replies = bot.connector.sent[before:]
    return "\n".join(r.text + "\n" + "\n".join(texts(c) for c in r.cards) for r in replies)


async def _in_channel(bot: BotHarness, person: Person, text: str) -> str:
    bot.meet(person)
    before = len(bot.connector.sent)
    activity = teams.channel_message(
        person, bot.connector.url, text, team_id=TEAM, channel_id="19:another@thread.tacv2"
    )
    status, _ = await bot.post(_from(person, activity))
    assert status == 201, status
    return "\n".join(r.text for r in bot.connector.sent[before:])


async def _invoke(bot: BotHarness, person: Person, name: str, value: dict[str, Any]) -> str:
    bot.meet(person)
    status, body = await bot.post(_from(person, teams.invoke(person, bot.connector.url, name, value)))
    if person is OUTSIDER:
        assert status == 403, status
        return ""
    assert status == 200, (status, body)
    return (
        json.dumps(body)
        + "\n"
        + (texts(body.get("value", {})) if isinstance(body.get("value"), dict) else "")
    )


async def _execute(bot: BotHarness, person: Person, verb: str, data: dict[str, Any]) -> str:
    if verb in DIALOG_VERBS:
        # Forms and the full record are dialogs: their steps come as task/submit.
        return await _invoke(bot, person, "task/submit", {"data": {"verb": verb, **data}})
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
    return await _invoke(bot, person, "adaptiveCard/action", value)


DIALOG_VERBS = {
    "decision.submit",
    "review.submit",
    "restriction.reinstate",
    "appeal.log",
    "appeal.outcome",
    "customer.record",
}


# --- the actions --------------------------------------------------------------------------------

Run = Callable[[BotHarness, Person, Scenario], Awaitable[str]]


@dataclass(frozen=True)
class Action:
    name: str
    allowed: frozenset[Person]
    run: Run
    done: str  # what an allowed person is shown
    refused: str  # what a refused person is shown


NO_ACCESS = "You do not have access to"
NOT_YOURS = "Only some roles may use"


async def _report(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _invoke(bot, who, "task/fetch", {"data": {"action": "report.open"}})


async def _note(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _say(bot, who, f"add to {s.reference} They rang again at 4pm.")


async def _decide(bot: BotHarness, who: Person, s: Scenario) -> str:
    data = {"incident": s.second, "kind": "no_further_action", "reasons": "A one-off."}
    return await _execute(bot, who, "decision.submit", data)


async def _review(outcome: str, bot: BotHarness, who: Person, s: Scenario) -> str:
    data = {
        "restriction": s.restriction,
        "outcome": outcome,
        "due": s.review_due,
        "reasons": "Calls are calmer.",
        "notify_customer": "yes",
        "needs_considered": "yes",
        "restriction_1_type": "limit_time_volume_topics",
        "restriction_1_details": "One call a week, 20 minutes.",
        "restriction_1_scope": "service",
        "restriction_1_frontline_instructions": "Take one call a week.",
        "restriction_1_starts_on": "2026-11-23",
        "restriction_1_review_due_on": "2027-05-23",
        "restriction_1_no_review": "false",
    }
    return await _execute(bot, who, "review.submit", data)


async def _vary(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _review("vary", bot, who, s)


async def _lift(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _review("lift", bot, who, s)


async def _log_appeal(bot: BotHarness, who: Person, s: Scenario) -> str:
    data = {
        "incident": s.incident,
        "against": f"immediate_action:{s.incident}",
        "grounds": "I was not shouting.",
        "received_on": "2026-11-23",
    }
    return await _execute(bot, who, "appeal.log", data)


async def _appeal_outcome(bot: BotHarness, who: Person, s: Scenario) -> str:
    data = {"appeal": s.appeal, "outcome": "not_upheld", "reasons": "Proportionate."}
    return await _execute(bot, who, "appeal.outcome", data)


async def _check(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _say(bot, who, "check pat jones TD6 0SA")


async def _full_record(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _execute(bot, who, "customer.record", {"customer": s.customer})


async def _stats(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _say(bot, who, "stats")


async def _set_channel(bot: BotHarness, who: Person, s: Scenario) -> str:
    return await _in_channel(bot, who, "set review group channel")


MANAGERS_AND_KEEPERS = frozenset({AMY, HAL, KIM})
MANAGERS = frozenset({AMY, HAL})
ACTIONS = [
    Action("report", EVERYONE, _report, '"type": "continue"', ""),
    Action("add note", frozenset({SAM, AMY, HAL, KIM}), _note, "Added to", "I can't find an incident"),
    # Managers decide; the register keepers keep the register and oversee.
    Action("decide", frozenset({HAL}), _decide, "Decided: No further action", NO_ACCESS),
    Action("vary", MANAGERS, _vary, "Varied by", NO_ACCESS),
    Action("lift", MANAGERS, _lift, "Lifted by", NO_ACCESS),
    Action("log appeal", frozenset({CATH, AMY, HAL, KIM}), _log_appeal, "Logged.", NO_ACCESS),
    Action(
        "record appeal outcome",
        frozenset({CERI}),
        _appeal_outcome,
        "Not upheld: the decision is confirmed. Recorded by Ceri Panel",
        "You took part in the decision or the report, or are not of the body|You do not have access",
    ),
    Action("check", EVERYONE, _check, "How to handle this customer", ""),
    Action("open full record", MANAGERS_AND_KEEPERS, _full_record, "Customer record", NO_ACCESS),
    Action("stats", frozenset({KIM}), _stats, "Incidents", NOT_YOURS),
    Action("set review group channel", frozenset({KIM}), _set_channel, "Done: appeals", NOT_YOURS),
]

CELLS = [
    pytest.param(action, role, person, id=f"{action.name} / {role}")
    for action in ACTIONS
    for role, person in PEOPLE.items()
]


async def _person_id(bot: BotHarness, person: Person) -> int | None:
    async with bot.sessions() as session:
        return await session.scalar(select(PersonRow.id).where(PersonRow.email == person.email))


@pytest.mark.parametrize(("action", "role", "person"), CELLS)
async def test_each_action_succeeds_only_for_whom_the_policy_allows(council, scenario, action, role, person):
    before = await snapshot(council)
    audited = len(await council.rows(AuditEvent))
    shown = await action.run(council, person, scenario)
    after = await snapshot(council)
    events = (await council.rows(AuditEvent))[audited:]

    if person is OUTSIDER:
        # Another organisation's tenant: ignored before anyone is looked up or anything is read.
        assert shown == ""
        assert after == before
        assert events == []
        assert await _person_id(council, OUTSIDER) is None
        return
    if person in action.allowed:
        assert action.done in shown, shown.splitlines()[-3:]
        assert not [e for e in events if e.action == "access.refused"]
        return
    assert any(message in shown for message in action.refused.split("|")), shown
    assert after == before, "a refused action changed the register"
    refusals = [e for e in events if e.action == "access.refused"]
    assert [e.actor_id for e in refusals] == [await _person_id(council, person)]


# --- forged ids: cards that name records the sender has no part in ------------------------------


@pytest.mark.parametrize(
    ("verb", "data"),
    [
        ("decision.submit", {"incident": "{incident}", "kind": "no_further_action", "reasons": "x"}),
        ("incident.refresh", {"incident": "{second}"}),
        ("letter.link", {"letter": "{letter}", "large": True}),
        ("letter.sent", {"letter": "{letter}", "sent_on": "2026-11-23", "method": "post"}),
        ("review.submit", {"restriction": "{restriction}", "outcome": "lift", "due": "{review_due}"}),
        ("restriction.reinstate", {"restriction": "{restriction}"}),
        ("appeal.outcome", {"appeal": "{appeal}", "outcome": "upheld", "reasons": "x"}),
        ("appeal.letter_link", {"appeal": "{appeal}"}),
        ("customer.record", {"customer": "{customer}"}),
        ("decision.submit", {"incident": 999_999, "kind": "no_further_action", "reasons": "x"}),
        ("customer.record", {"customer": -1}),
    ],
)
async def test_a_manager_of_another_service_forging_ids_is_refused_and_audited(council, scenario, verb, data):
    ids = {k: str(v) for k, v in vars(scenario).items()}
    forged = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in data.items()}
    before = await snapshot(council)
    shown = await _execute(council, WES, verb, forged)
    assert NO_ACCESS in shown
    assert await snapshot(council) == before
    (refusal,) = [e for e in await council.rows(AuditEvent) if e.action == "access.refused"]
    assert refusal.actor_id == await _person_id(council, WES)
    assert refusal.detail == {"attempted": verb}


# --- forged verbs: free text must not enter the audit trail ---------------------------------------

# What someone typed into a card's verb by hand. The trail is never anonymised, so none of it may stay.
FREE_TEXT = "Pat Customer, 1 High Street, HIV positive"


@pytest.mark.parametrize(
    "prefix", ["incident.", "decision.", "letter.", "review.", "restriction.", "appeal.", "customer."]
)
async def test_a_forged_verb_is_refused_and_the_trail_keeps_no_free_text(council, scenario, prefix):
    ids = {"incident": scenario.second, "restriction": scenario.restriction, "appeal": scenario.appeal}
    data = {**ids, "letter": scenario.letter, "customer": scenario.customer}
    before = len(await council.rows(AuditEvent))
    forged = prefix + FREE_TEXT
    await _execute(council, WES, forged, data)
    await _invoke(council, WES, "task/fetch", {"data": {"verb": forged, **data}})
    await _invoke(council, WES, "task/submit", {"data": {"verb": forged, **data}})
    events = (await council.rows(AuditEvent))[before:]
    assert [e for e in events if e.action == "access.refused"], "a forged verb went unrecorded"
    written = json.dumps([e.detail for e in events]).lower()
    for word in ("pat", "high street", "hiv", "positive"):
        assert word not in written, (word, written)
    assert {e.detail.get("attempted") for e in events if e.action == "access.refused"} == {"unknown"}


# --- what only the server's operator does -------------------------------------------------------


async def test_export_retention_and_role_import_cannot_be_done_from_teams(council):
    typed = [
        "export customer 1",
        "export",
        "retention",
        "retention --dry-run",
        "roles import roles.toml",
        "import roles",
        "grant KIM register_keeper",
    ]
    before = await snapshot(council)
    for person in (KIM, AMY, SAM):
        for text in typed:
            shown = await _say(council, person, text)
            assert "I don't know" in shown, (person.name, text)
        help_shown = await _say(council, person, "help")
        for word in ("export", "retention", "import"):
            assert word not in help_shown.lower()
    assert await snapshot(council) == before
    # Not even a keeper's roles come from Teams: the register's only roles are the file's.
    async with council.sessions() as session:
        from storage.models import RoleAssignment

        roles = {r.role for r in (await session.scalars(select(RoleAssignment))).all()}
    assert roles == {r.value for r in Role if r is not Role.ELECTED_MEMBER}


# --- along a case's history: who reported, decided, reviewed and heard --------------------------
#
# Each test builds its own small register through the endpoint: the conflicts come from steps
# taken earlier in the case, which the shared scenario above does not hold.

VARY = {
    "restriction_1_type": "limit_time_volume_topics",
    "restriction_1_details": "One call a week, 20 minutes.",
    "restriction_1_scope": "service",
    "restriction_1_frontline_instructions": "Take one call a week.",
    "restriction_1_starts_on": "2026-11-23",
    "restriction_1_review_due_on": "2027-05-23",
    "restriction_1_no_review": "false",
    "needs_considered": "yes",
}


@pytest.fixture
async def fresh(tmp_path, connector) -> AsyncIterator[BotHarness]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    bot = BotHarness(url, connector, FakeClock(), tenant_id=teams.TENANT_ID)
    await bot.start()
    await bot.import_roles(ROLES)
    for person in EVERYONE:
        await bot.say(person, "hi")
    yield bot
    await bot.stop()


async def _decided(bot: BotHarness, reporter: Person, decider: Person) -> tuple[str, Restriction]:
    """An incident `reporter` reported for Housing, on which `decider` restricted contact."""
    bot.connector.clear()
    reference = await report(bot, reporter)
    await bot.deliver()
    (notice,) = [s for s in bot.connector.to(decider.chat_id) if s.method == "POST"]
    decided = await decide(bot, decider, notice.card, "Active management", **ACTIVE)
    assert "Decided: Active management" in texts(decided)
    (restriction,) = await bot.rows(Restriction, Restriction.status == "active")
    return reference, restriction


async def _review_step(bot: BotHarness, who: Person, r: Restriction, outcome: str) -> str:
    data = {
        "restriction": r.id,
        "outcome": outcome,
        "due": r.review_due_on.isoformat() if r.review_due_on else "",
        "reasons": "Calls are calmer.",
        "notify_customer": "no",
        **VARY,
    }
    return await _execute(bot, who, "review.submit", data)


async def _reinstate(bot: BotHarness, who: Person, r: Restriction, scope: str = "service") -> str:
    data = {"restriction": r.id, "reasons": "Abusive calls again.", **VARY, "restriction_1_scope": scope}
    return await _execute(bot, who, "restriction.reinstate", data)


async def _refused(bot: BotHarness, who: Person, attempt: Awaitable[str], message: str = NO_ACCESS) -> None:
    """The attempt is refused, changes nothing, and leaves one refusal by `who` in the trail."""
    before = await snapshot(bot)
    audited = len(await bot.rows(AuditEvent))
    shown = await attempt
    assert message in shown, shown
    assert await snapshot(bot) == before, "a refused step changed the register"
    events = (await bot.rows(AuditEvent))[audited:]
    assert [e.actor_id for e in events if e.action == "access.refused"] == [await _person_id(bot, who)]


async def test_a_manager_who_reports_another_services_customer_gains_no_sight_of_their_record(fresh):
    await _decided(fresh, SAM, AMY)  # Housing's case, with its decision
    (customer,) = await fresh.rows(Customer)
    # Wes, Waste's manager, reports the same customer for Waste himself.
    waste = await report(
        fresh,
        WES,
        customer={"customer_query": "pat jones TD6 0SA", "customer_id": str(customer.id)},
        service_area="waste",
    )
    assert waste
    await _refused(fresh, WES, _full_record(fresh, WES, _ids(customer=customer.id)))
    for allowed in (HAL, KIM):
        assert "Customer record" in await _full_record(fresh, allowed, _ids(customer=customer.id))


async def test_a_managers_view_of_a_record_covers_only_their_own_services_cases(fresh):
    reference, _ = await _decided(fresh, SAM, AMY)
    (customer,) = await fresh.rows(Customer)
    named = {"customer_query": "pat jones TD6 0SA", "customer_id": str(customer.id)}
    other = await report(fresh, SAM, customer=named, service_area="waste")
    shown = await _full_record(fresh, WES, _ids(customer=customer.id))
    assert "Customer record" in shown
    assert other in shown
    assert reference not in shown  # Housing's case and its decision are not Waste's to read
    assert "Email to housing.contact@council.example only." not in shown
    kept = await _full_record(fresh, KIM, _ids(customer=customer.id))
    assert reference in kept and other in kept


async def test_the_reporter_never_reviews_lifts_or_reinstates(fresh):
    _, restriction = await _decided(fresh, HAL, AMY)  # Hal, a Housing manager, reported it
    for outcome in ("continue", "vary", "lift"):
        await _refused(fresh, HAL, _review_step(fresh, HAL, restriction, outcome))
    assert "Lifted by" in await _review_step(fresh, AMY, restriction, "lift")
    await _refused(fresh, HAL, _reinstate(fresh, HAL, restriction))
    await _refused(fresh, KIM, _reinstate(fresh, KIM, restriction))  # keepers do not decide
    assert "Reinstated by" in await _reinstate(fresh, AMY, restriction)


async def test_a_restriction_overturned_on_appeal_is_not_reinstated_by_the_manager_it_overruled(fresh):
    reference, restriction = await _decided(fresh, SAM, HAL)
    assert "Logged." in await log_appeal(fresh, CATH, reference, against="decision", grounds="Unfair.")
    (appeal,) = await fresh.rows(Appeal)
    heard = await _execute(
        fresh, CERI, "appeal.outcome", {"appeal": appeal.id, "outcome": "upheld", "reasons": "Too wide."}
    )
    assert "Upheld: the decision is overturned. Recorded by Ceri Panel" in heard
    # The same day, wider: neither the manager overruled nor a keeper may.
    for manager in (HAL, KIM):
        await _refused(fresh, manager, _reinstate(fresh, manager, restriction, scope="council_wide"))
    # The body that heard the appeal may (a new incident is the other way back).
    assert "Reinstated by" in await _reinstate(fresh, CERI, restriction)


async def test_nobody_hears_an_appeal_on_a_step_they_took(fresh):
    reference, restriction = await _decided(fresh, SAM, HAL)
    # Amy, who also sits on the Complaints Review Group, varies the restriction at its review.
    assert "Varied by" in await _review_step(fresh, AMY, restriction, "vary")
    assert "Logged." in await log_appeal(fresh, CATH, reference, against="decision", grounds="Unfair.")
    (appeal,) = await fresh.rows(Appeal)
    outcome = {"appeal": appeal.id, "outcome": "not_upheld", "reasons": "Proportionate."}
    await _refused(
        fresh, AMY, _execute(fresh, AMY, "appeal.outcome", outcome), "You took part in the decision"
    )
    assert "Not upheld: the decision is confirmed. Recorded by Ceri Panel" in await _execute(
        fresh, CERI, "appeal.outcome", outcome
    )


async def test_a_verb_without_a_rule_is_refused_before_any_handler(fresh):
    for name, value in (
        ("adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": "decision.bogus", "data": {}}}),
        ("task/submit", {"data": {"verb": "review.bogus", "restriction": 1}}),
        ("task/fetch", {"data": {"verb": "appeal.bogus"}}),
    ):
        await _refused(fresh, KIM, _invoke(fresh, KIM, name, value), "not one I know")


def _ids(**ids: int) -> Scenario:
    """A scenario naming only the ids a helper reads (the helpers take one)."""
    return Scenario(Path(), 0, "", 0, ids.get("customer", 0), 0, "", 0, 0)


# --- every kind of decision on a case, against every person ------------------------------------
#
# One table: each row is a case whose latest step is one kind of decision (a manager's first
# decision of each kind, a review that varies, a reinstatement, an employee's immediate action,
# the Complaints Review Group's outcome, the Chief Executive's), or a conflict along its history
# (reported by a manager who could otherwise act; overturned on appeal); then one action on that
# step and who may take it. Each row's case is built once through the endpoint and copied for
# every person. Dev is a Housing manager on the review group, so only the steps he took keep him
# from acting. Amy, also on the group, takes every row's first decision.

DEV = Person.called("Dev Panel", "dev.manager@council.example")
PIP = Person.called("Pip Staff", "pip.staff@council.example")
HISTORY_ROLES = ROLES.replace(
    '"hal.manager@council.example"]', '"hal.manager@council.example", "dev.manager@council.example"]'
).replace('"amy.manager@council.example"]', '"amy.manager@council.example", "dev.manager@council.example"]')
ALONG = {
    "reporter (staff)": SAM,
    "the service's other manager": HAL,
    "the deciding manager (on the group)": AMY,
    "another service's manager": WES,
    "review group member": CERI,
    "took the later step (manager on the group)": DEV,
    "chief executive": CHIEF,
    "register keeper": KIM,
    "plain staff": PIP,
    "complaints team": CATH,
}
TODAY = "2026-11-23"  # the FakeClock's day: an appeal received today is never early nor late
RESTORATIVE = {
    "reasons": "First incident; customer open to talking.",
    "restorative_steps": "discussed_behaviour,explained_concern",
    "follow_up_on": "2026-12-07",
}
POLICE = {"reasons": "Threats to staff.", "police_reference": "PS-2026-1", "needs_considered": "yes"}


@dataclass(frozen=True)
class Made:
    """A case built for a row: the ids its actions name."""

    database: Path
    incident: int
    customer: int
    against: str  # what an appeal on the row's step is logged against
    letter: dict[str, Any]  # the row's letter, as its download button names it (verb and data)


async def _first(bot: BotHarness, reporter: Person, title: str, inputs: dict[str, Any]) -> str:
    bot.connector.clear()
    reference = await report(bot, reporter)
    await bot.deliver()
    (notice,) = [s for s in bot.connector.to(AMY.chat_id) if s.method == "POST"]
    decided = await decide(bot, AMY, notice.card, title, **inputs)
    assert f"Decided: {title}" in texts(decided)
    return reference


async def _appeal_heard(bot: BotHarness, against: str, hearer: Person, outcome: str = "not_upheld") -> Appeal:
    (incident,) = await bot.rows(Incident)
    logged = await _execute(
        bot,
        CATH,
        "appeal.log",
        {"incident": incident.id, "against": against, "grounds": "Unfair.", "received_on": TODAY},
    )
    assert "Logged." in logged, logged
    appeal = max(await bot.rows(Appeal), key=lambda a: a.id)
    heard = await _execute(
        bot, hearer, "appeal.outcome", {"appeal": appeal.id, "outcome": outcome, "reasons": "Heard."}
    )
    assert f"Recorded by {hearer.name}" in heard, heard
    return appeal


async def _active(bot: BotHarness) -> Restriction:
    (restriction,) = await bot.rows(Restriction, Restriction.status == "active")
    return restriction


def _decision_letter(kind: str) -> Callable[[BotHarness], Awaitable[dict[str, Any]]]:
    async def letter(bot: BotHarness) -> dict[str, Any]:
        found = max((x for x in await bot.rows(Letter) if x.kind == kind), key=lambda x: x.id)
        return {"verb": "letter.link", "letter": found.id, "large": False}

    return letter


async def _decision(bot: BotHarness) -> str:
    """The first decision, as an appeal names it."""
    (decision,) = await bot.rows(Decision)
    return f"decision:{decision.id}"


async def _newest_review(bot: BotHarness) -> str:
    """A review's variation or reinstatement: a new decision, appealed in its own right."""
    return f"review:{max(r.id for r in await bot.rows(Review))}"


async def _story_restorative(bot: BotHarness) -> str:
    await _first(bot, SAM, "Restorative approach", RESTORATIVE)
    return await _decision(bot)


async def _story_active(bot: BotHarness) -> str:
    await _first(bot, SAM, "Active management", ACTIVE)
    return await _decision(bot)


async def _story_police(bot: BotHarness) -> str:
    await _first(bot, SAM, "Refer to police / legal action", POLICE)
    return await _decision(bot)


async def _story_varied(bot: BotHarness) -> str:
    await _first(bot, SAM, "Active management", ACTIVE)
    assert "Varied by" in await _review_step(bot, DEV, await _active(bot), "vary")
    return await _newest_review(bot)


async def _story_reinstated(bot: BotHarness) -> str:
    await _first(bot, SAM, "Active management", ACTIVE)
    restriction = await _active(bot)
    assert "Lifted by" in await _review_step(bot, AMY, restriction, "lift")
    assert "Reinstated by" in await _reinstate(bot, DEV, restriction)
    return await _newest_review(bot)


async def _story_immediate(bot: BotHarness) -> str:
    bot.connector.clear()
    assert await report(bot, SAM)  # Sam ended the contact; no manager has decided
    (incident,) = await bot.rows(Incident)
    return f"immediate_action:{incident.id}"


async def _story_group(bot: BotHarness) -> str:
    await _first(bot, SAM, "Active management", ACTIVE)
    return f"appeal:{(await _appeal_heard(bot, await _decision(bot), DEV)).id}"


async def _story_chief(bot: BotHarness) -> str:
    await _story_group(bot)
    (heard,) = await bot.rows(Appeal)
    return f"appeal:{(await _appeal_heard(bot, f'appeal:{heard.id}', CHIEF)).id}"


async def _story_reported_by_dev(bot: BotHarness) -> str:
    await _first(bot, DEV, "Active management", ACTIVE)
    return await _decision(bot)


async def _story_overturned(bot: BotHarness) -> str:
    await _first(bot, SAM, "Active management", ACTIVE)
    return f"appeal:{(await _appeal_heard(bot, await _decision(bot), CERI, 'upheld')).id}"


STORIES: dict[str, Callable[[BotHarness], Awaitable[str]]] = {
    "restorative approach": _story_restorative,
    "active management": _story_active,
    "police/legal": _story_police,
    "varied at review (by Dev)": _story_varied,
    "reinstated (by Dev)": _story_reinstated,
    "immediate action (contact ended)": _story_immediate,
    "review group's outcome (Dev heard)": _story_group,
    "chief executive's outcome": _story_chief,
    "reported by Dev": _story_reported_by_dev,
    "overturned on appeal (Ceri heard)": _story_overturned,
}


async def _made(folder: Path, story: str) -> Made:
    database = folder / "story.db"
    url = f"sqlite+aiosqlite:///{database}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    connector = RecordingConnector()
    await connector.start()
    bot = BotHarness(url, connector, FakeClock(), tenant_id=teams.TENANT_ID)
    await bot.start()
    try:
        await bot.import_roles(HISTORY_ROLES)
        for person in ALONG.values():
            await bot.say(person, "hi")
        against = await STORIES[story](bot)
        (incident,) = await bot.rows(Incident)
        letters = sorted(await bot.rows(Letter), key=lambda x: x.id)
        letter: dict[str, Any] = {}
        if letters and letters[-1].appeal_id:
            letter = {"verb": "appeal.letter_link", "appeal": letters[-1].appeal_id, "large": False}
        elif letters:
            letter = {"verb": "letter.link", "letter": letters[-1].id, "large": False}
        return Made(database, incident.id, incident.customer_id, against, letter)
    finally:
        await bot.stop()
        await connector.stop()


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Made], pytest.TempPathFactory]:
    """Each row's case, built the first time a cell needs it."""
    return {}, tmp_path_factory


# The steps, each on the row's case as the register now holds it.


async def _lift_it(bot: BotHarness, who: Person, m: Made) -> str:
    return await _review_step(bot, who, await _active(bot), "lift")


async def _reinstate_it(bot: BotHarness, who: Person, m: Made) -> str:
    lifted = max(await bot.rows(Restriction, Restriction.status == "lifted"), key=lambda r: r.id)
    return await _reinstate(bot, who, lifted)


async def _a_manager_lifts(bot: BotHarness, m: Made) -> None:
    assert "Lifted by" in await _review_step(bot, HAL, await _active(bot), "lift")


async def _log_it(bot: BotHarness, who: Person, m: Made) -> str:
    data = {"incident": m.incident, "against": m.against, "grounds": "Unfair.", "received_on": TODAY}
    return await _execute(bot, who, "appeal.log", data)


async def _cath_logs(bot: BotHarness, m: Made) -> None:
    assert "Logged." in await _log_it(bot, CATH, m)


async def _hear_it(bot: BotHarness, who: Person, m: Made) -> str:
    appeal = max(await bot.rows(Appeal, Appeal.status == "open"), key=lambda a: a.id)
    return await _execute(
        bot, who, "appeal.outcome", {"appeal": appeal.id, "outcome": "not_upheld", "reasons": "Fair."}
    )


async def _letter_of_it(bot: BotHarness, who: Person, m: Made) -> str:
    return await _execute(bot, who, m.letter["verb"], {k: v for k, v in m.letter.items() if k != "verb"})


async def _record_of_it(bot: BotHarness, who: Person, m: Made) -> str:
    return await _execute(bot, who, "customer.record", {"customer": m.customer})


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BotHarness, Person, Made], Awaitable[str]]
    done: str  # what an allowed person is shown ({name}: theirs)
    refused: str = NO_ACCESS
    before: Callable[[BotHarness, Made], Awaitable[None]] | None = None  # what must happen first


REVIEW = Step("review (lift)", _lift_it, "Lifted by")
REINSTATE = Step(
    "reinstate (after a manager lifts it)", _reinstate_it, "Reinstated by", before=_a_manager_lifts
)
REINSTATE_LIFTED = Step("reinstate", _reinstate_it, "Reinstated by")
LOG = Step("log an appeal", _log_it, "Logged.")
LOG_AT_THE_TOP = Step("log an appeal", _log_it, "no further internal appeal")
LOG_NOTHING_LEFT = Step("log an appeal", _log_it, "Choose what is appealed from the list")
HEAR = Step(
    "hear the appeal",
    _hear_it,
    "Recorded by {name}",
    "You took part in the decision or the report, or are not of the body|You do not have access",
    before=_cath_logs,
)
LETTERS = Step("download the letter", _letter_of_it, "letter is ready")
RECORD = Step("open the full record", _record_of_it, "Customer record")

MANAGING = frozenset({HAL, AMY, DEV, KIM})  # the service's managers and the keepers
DECIDING = MANAGING - {KIM}  # managers decide (review, reinstate, their letters); keepers oversee
LOGGING = MANAGING | {CATH}
# (row's case, step, who may): Sam (staff) reported each case but "reported by Dev".
ALONG_THE_CASE = [
    ("restorative approach", LOG, LOGGING),
    ("restorative approach", HEAR, {CERI, DEV}),  # to the group; Amy decided
    ("restorative approach", LETTERS, DECIDING),
    ("restorative approach", RECORD, MANAGING),
    ("active management", REVIEW, DECIDING),
    ("active management", REINSTATE, DECIDING),
    ("active management", LOG, LOGGING),
    ("active management", HEAR, {CERI, DEV}),
    ("active management", LETTERS, DECIDING),
    ("active management", RECORD, MANAGING),
    ("police/legal", LOG, LOGGING),
    ("police/legal", HEAR, {CERI, DEV}),
    ("police/legal", LETTERS, DECIDING),
    ("police/legal", RECORD, MANAGING),
    ("varied at review (by Dev)", REVIEW, DECIDING),
    ("varied at review (by Dev)", REINSTATE, DECIDING),
    ("varied at review (by Dev)", LOG, LOGGING),
    ("varied at review (by Dev)", HEAR, {CERI}),  # Dev varied what is appealed
    ("varied at review (by Dev)", LETTERS, DECIDING),
    ("varied at review (by Dev)", RECORD, MANAGING),
    ("reinstated (by Dev)", REVIEW, DECIDING),
    ("reinstated (by Dev)", REINSTATE, DECIDING),
    ("reinstated (by Dev)", LOG, LOGGING),
    ("reinstated (by Dev)", HEAR, {CERI}),  # Dev reinstated what is appealed
    ("reinstated (by Dev)", LETTERS, DECIDING),
    ("reinstated (by Dev)", RECORD, MANAGING),
    ("immediate action (contact ended)", LOG, LOGGING),
    ("immediate action (contact ended)", HEAR, {CATH}),  # the complaints procedure
    ("immediate action (contact ended)", RECORD, MANAGING),
    ("review group's outcome (Dev heard)", REVIEW, DECIDING),
    ("review group's outcome (Dev heard)", REINSTATE, DECIDING),
    ("review group's outcome (Dev heard)", LOG, LOGGING),
    ("review group's outcome (Dev heard)", HEAR, {CHIEF}),  # to the Chief Executive
    ("review group's outcome (Dev heard)", LETTERS, {CERI, DEV, KIM}),  # the body that heard it
    ("review group's outcome (Dev heard)", RECORD, MANAGING),
    ("chief executive's outcome", REVIEW, DECIDING),
    ("chief executive's outcome", REINSTATE, DECIDING),
    ("chief executive's outcome", LOG_AT_THE_TOP, LOGGING),  # then only the SPSO
    ("chief executive's outcome", LETTERS, {CHIEF, KIM}),
    ("chief executive's outcome", RECORD, MANAGING),
    # The reporter never decides, reviews, lifts, reinstates or hears, even as the service's manager.
    ("reported by Dev", REVIEW, DECIDING - {DEV}),
    ("reported by Dev", REINSTATE, DECIDING - {DEV}),
    ("reported by Dev", LOG, LOGGING),
    ("reported by Dev", HEAR, {CERI}),
    ("reported by Dev", LETTERS, DECIDING - {DEV}),
    ("reported by Dev", RECORD, MANAGING - {DEV}),  # reporting grants no sight of the record
    # An appeal's outcome binds: only the body that heard it brings the restriction back, through a
    # member who took no other step (or a new incident does).
    ("overturned on appeal (Ceri heard)", REINSTATE_LIFTED, {CERI, DEV}),
    # An appeal upheld leaves the customer nothing of it to appeal.
    ("overturned on appeal (Ceri heard)", LOG_NOTHING_LEFT, LOGGING),
    ("overturned on appeal (Ceri heard)", LETTERS, {CERI, DEV, KIM}),
    ("overturned on appeal (Ceri heard)", RECORD, MANAGING),
]
ALONG_CELLS = [
    pytest.param(story, step, frozenset(allowed), person, id=f"{story} / {step.name} / {label}")
    for story, step, allowed in ALONG_THE_CASE
    for label, person in ALONG.items()
]


@pytest.fixture
async def case_copy(request, stories, tmp_path, connector) -> AsyncIterator[tuple[BotHarness, Made]]:
    built, folders = stories
    story = request.node.callspec.params["story"]
    if story not in built:
        built[story] = await _made(folders.mktemp("story"), story)
    made = built[story]
    shutil.copy(made.database, tmp_path / "cell.db")
    bot = BotHarness(
        f"sqlite+aiosqlite:///{tmp_path / 'cell.db'}", connector, FakeClock(), tenant_id=teams.TENANT_ID
    )
    await bot.start()
    yield bot, made
    await bot.stop()


@pytest.mark.parametrize(("story", "step", "allowed", "person"), ALONG_CELLS)
async def test_each_step_on_each_kind_of_decision_is_taken_only_by_whom_the_policy_allows(
    case_copy, story, step, allowed, person
):
    bot, made = case_copy
    if step.before is not None:
        await step.before(bot, made)
    if person in allowed:
        shown = await step.run(bot, person, made)
        assert step.done.format(name=person.name) in shown, shown.splitlines()[-3:]
        refusals = [e for e in await bot.rows(AuditEvent) if e.action == "access.refused"]
        assert not refusals, [e.detail for e in refusals]
        return
    before = await snapshot(bot)
    audited = len(await bot.rows(AuditEvent))
    shown = await step.run(bot, person, made)
    assert any(message in shown for message in step.refused.split("|")), shown
    assert await snapshot(bot) == before, "a refused step changed the register"
    events = (await bot.rows(AuditEvent))[audited:]
    assert [e.actor_id for e in events if e.action == "access.refused"] == [await _person_id(bot, person)]
