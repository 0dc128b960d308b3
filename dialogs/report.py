"""Reporting an incident: the multi-step dialog, the submission, and `add to INC-...`.

State between steps lives in a draft row keyed by an unguessable token the card carries; the
server decides which step the reporter is on, so a forged or stale card cannot skip a check.
Nothing reaches the register until *Send*, and a Send that arrives twice stores one incident.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cards import report as report_cards
from cards.elements import Card
from cards.formatting import local_time
from dialogs import decide, finding, refusals
from dialogs import report_form as form
from dialogs.commands import command
from dialogs.ids import record_id
from dialogs.notify import card_message
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Reply, Services, ShowStep
from policy.categories import (
    CATEGORIES,
    OTHER_BEHAVIOUR,
    Category,
    behaviour_choices,
    behaviour_titles,
    is_urgent,
)
from policy.channels import CHANNEL_LABELS, ContactChannel
from policy.chasing import first_chase
from policy.decisions import DecidingBody
from policy.incidents import AFFECTED_LABELS, DESCRIPTION_MAX, AffectedParty
from policy.roles import Role
from storage import audit, customers, decisions, drafts, incidents, outbox, people
from storage.models import Customer, Incident, ReportDraft, ServiceArea

GONE = CloseDialog(
    "This report is no longer open (drafts are kept for 24 hours). Type report to start again."
)


# --- opening ------------------------------------------------------------------------------------


async def open_dialog(
    services: Services,
    actor: Actor,
    *,
    fresh: bool = False,
    prefill: Mapping[str, str] | None = None,
) -> DialogAnswer:
    """The first card of the dialog: the unfinished draft if there is one, else a new one."""
    now = services.clock()
    async with services.sessions() as session:
        await drafts.purge_expired(session, now=now)
        if fresh:
            await drafts.discard_for(session, actor.person_id)
        # A message reported from Teams starts its own report; an unfinished one stays offered.
        draft = None if fresh or prefill else await drafts.latest(session, actor.person_id, now=now)
        if draft is None:
            values = {**_happened_now(services), **form.clean(prefill or {})}
            draft = drafts.start(session, actor.person_id, step="customer", values=values, now=now)
            await session.flush()
        answer = ShowStep(await _render(session, services, draft, {}), report_cards.DIALOG_TITLE)
        await session.commit()
    return answer


def _happened_now(services: Services) -> dict[str, str]:
    """Most reports are made straight after the contact: the form starts at now, local time."""
    local = services.clock().astimezone(services.zone)
    return {"occurred_date": local.date().isoformat(), "occurred_time": local.strftime("%H:%M")}


def _carry_name(values: dict[str, Any], query: str) -> None:
    """The name searched for becomes the new customer's name, unless the person typed one (a
    name they typed is kept; one carried from an earlier search follows the new one). The
    reference, postcode, email or phone searched with (words with digits or @) is no name."""
    typed = values.get("new_name", "") not in ("", values.get("_carried_name"))
    if typed or len(query) > form.LIMITS["customer_query"]:  # an overlong search was not run
        return
    name = customers.parse(query).name
    if name:
        values["new_name"] = values["_carried_name"] = name


def prefill_from_message(payload: Mapping[str, Any], services: Services) -> dict[str, str]:
    """The description and time of a Teams message the reporter chose to report."""
    body = payload.get("body") if isinstance(payload.get("body"), dict) else {}
    content = body.get("content") if isinstance(body.get("content"), str) else ""
    plain = " ".join(re.sub(r"<[^>]+>", " ", content).split())
    values = {"description": unescape(plain)[:DESCRIPTION_MAX]}
    created = payload.get("createdDateTime")
    if isinstance(created, str):
        try:
            moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            local = moment.astimezone(services.zone)
            values["occurred_date"] = local.date().isoformat()
            values["occurred_time"] = local.strftime("%H:%M")
    return values


# --- each step ----------------------------------------------------------------------------------


async def _areas(session: AsyncSession) -> list[ServiceArea]:
    return await people.service_areas(session)


def _customer_label(customer: Customer) -> str:
    # A hint, not the details: the reporter found them with a detail they already knew.
    return customers.label(customer.name, customer.customer_reference, customer.postcode)


async def _render(
    session: AsyncSession, services: Services, draft: ReportDraft, errors: Mapping[str, str]
) -> Card:
    values: dict[str, Any] = draft.values
    token = draft.token
    if draft.step == "customer":
        found = await customers.by_ids(session, values.get("_match_ids", []))
        return report_cards.customer_step(
            token,
            values,
            errors,
            [(c.id, _customer_label(c)) for c in found],
            bool(values.get("_searched")),
        )
    if draft.step == "what":
        today = services.clock().astimezone(services.zone).date().isoformat()
        areas = [(a.key, a.name) for a in await _areas(session)]
        return report_cards.what_step(token, values, errors, areas, today)
    if draft.step == "behaviour":
        return report_cards.behaviour_step(token, values, errors)
    if draft.step == "action":
        return report_cards.action_step(token, values, errors)
    summary = await _summary(session, services, values)
    return report_cards.check_step(token, summary)


def _problems(
    services: Services,
    step: str,
    values: Mapping[str, str],
    *,
    area_keys: set[str],
    existing_ids: set[int],
) -> form.Errors:
    """A step's checks, given what the register holds: `area_keys` for the services chosen
    from, `existing_ids` the chosen customer's id if this reporter's search offered them."""
    if step == "customer":
        return form.check_customer(values, existing_ids=existing_ids)
    if step == "what":
        return form.check_what(values, now=services.clock(), zone=services.zone, areas=area_keys)
    if step == "behaviour":
        return form.check_behaviour(values)
    if step == "action":
        return form.check_action(values)
    return {}


async def _check(
    session: AsyncSession, services: Services, step: str, values: Mapping[str, str]
) -> form.Errors:
    existing: set[int] = set()
    keys: set[str] = set()
    if step == "customer":
        # Only a customer this reporter's own search found may be chosen: an id typed into a
        # forged card must not show anyone else's details.
        chosen = record_id(values.get("customer_id"))
        offered = set(values.get("_match_ids", []))
        if chosen in offered and await customers.get_identifiable(session, chosen):
            existing = {chosen}
    elif step == "what":
        keys = {a.key for a in await _areas(session)}
    return _problems(services, step, values, area_keys=keys, existing_ids=existing)


async def step(services: Services, actor: Actor, data: Mapping[str, Any]) -> DialogAnswer:
    """A button pressed in the dialog: Search, Back, Next or Send, with the step's inputs."""
    token = data.get("draft")
    go = data.get("go")
    if not isinstance(token, str) or go not in ("search", "back", "next", "send"):
        return CloseDialog("That was not a step of the report form. Type report to start again.")
    if go == "send":
        return await _send(services, actor, token)
    now = services.clock()
    async with services.sessions() as session:
        draft = await drafts.owned(session, token, actor.person_id, now=now)
        if draft is None:
            return GONE
        # The server knows the step; a card claiming another one is stale or forged.
        current = draft.step
        if data.get("step") != current:
            answer = ShowStep(await _render(session, services, draft, {}), report_cards.DIALOG_TITLE)
            return answer
        values = {**draft.values, **_inputs_of(current, data)}
        errors: form.Errors = {}
        placement = form.Placement(current)
        if go == "back" and placement.previous:
            current = placement.previous
        elif go == "search" and current == "customer":
            query = values.get("customer_query", "")
            problem, values["_match_ids"] = await _search(session, actor, query, now)
            if problem:
                errors["customer_query"] = problem
            _carry_name(values, query)
            values["_searched"] = not problem
            values.pop("customer_id", None)
        elif go == "next":
            errors = await _check(session, services, current, values)
            if not errors and placement.next:
                current = placement.next
        drafts.save(draft, step=current, values=values, now=now)
        card = await _render(session, services, draft, errors)
        await session.commit()
    return ShowStep(card, report_cards.DIALOG_TITLE)


async def _search(
    session: AsyncSession, actor: Actor, query: str, now: datetime
) -> tuple[str | None, list[int]]:
    """What is wrong with the search, if anything, and the ids of the customers it shows."""
    if len(query) > form.LIMITS["customer_query"]:
        return "Search with fewer words: a name and a reference, a postcode, an email or a phone", []
    if len(query) < 2:
        return "Type the customer's name and their reference, postcode, email or phone", []
    found = await customers.search(session, query)
    ids = [m.candidate.id for m in found.matches]
    # Every search is a read of the register, listed in the monthly access report.
    await audit.record_many(session, finding.shown(actor.person_id, "customer.searched", ids), now=now)
    return (finding.ASK[found.refused] if found.refused else None), ids


def _inputs_of(step_name: str, data: Mapping[str, Any]) -> dict[str, str]:
    """This step's inputs only: a card cannot write fields of another step, nor internal ones."""
    cleaned = form.clean(data)
    allowed = set(form.FIELDS[step_name])
    return {k: v for k, v in cleaned.items() if k in allowed}


# --- the summary --------------------------------------------------------------------------------


def unidentified_name(known_as: str) -> str:
    """How a customer not yet identified is named until a keeper matches them to a record."""
    return f"Not yet identified: {known_as}"[:200]


async def _customer_name(session: AsyncSession, values: Mapping[str, str]) -> str:
    if form.flag(values.get("unidentified")):
        return f"{unidentified_name(values.get('known_as', ''))} (a keeper matches them later)"
    chosen = record_id(values.get("customer_id"))
    if chosen is not None:
        customer = await customers.get_identifiable(session, chosen)
        if customer is not None:
            return _customer_label(customer)
    return f"{values.get('new_name', '')} (new to the register)"


async def _summary(
    session: AsyncSession, services: Services, values: Mapping[str, str]
) -> report_cards.Summary:
    areas = {a.key: a.name for a in await _areas(session)}
    category = Category(values["category"])
    text = CATEGORIES[category]
    when = form.occurred_at(values, services.zone)
    chosen = set(form.multi(values.get("behaviours")))
    immediate = [
        label
        for key, label in (
            ("ended_contact", "Contact ended"),
            ("left_premises", "Left the premises"),
            ("police_called", "Police called"),
        )
        if form.flag(values.get(key))
    ]
    if form.flag(values.get("police_called")) and values.get("police_reference"):
        immediate[-1] = f"Police called (reference {values['police_reference']})"
    return report_cards.Summary(
        customer=await _customer_name(session, values),
        customer_details=[]
        if record_id(values.get("customer_id")) or form.flag(values.get("unidentified"))
        else [
            ("Reference", values.get("new_reference")),
            ("Email", values.get("new_email")),
            ("Phone", values.get("new_phone")),
            ("Address", values.get("new_address")),
            ("Postcode", values.get("new_postcode")),
            ("Support needs", values.get("new_support_needs")),
            ("Advocate", values.get("new_advocate")),
        ],
        when=local_time(when, services.zone) if when else "",
        channel=CHANNEL_LABELS[ContactChannel(values["channel"])],
        service_area=areas.get(values["service_area"], values["service_area"]),
        category=text.label,
        behaviours=behaviour_titles(category, chosen, values.get("other_behaviour")),
        description=values.get("description", ""),
        impact_on_staff=values.get("impact_on_staff") or None,
        impact_on_service=values.get("impact_on_service") or None,
        others_affected=[
            AFFECTED_LABELS[p] for p in AffectedParty if p.value in form.multi(values.get("others_affected"))
        ],
        immediate_action=immediate,
        wants_support=form.flag(values.get("wants_support")),
        urgent=is_urgent(category),
        aggravating=[
            label
            for key, label in (
                ("physical_violence", "Physical violence"),
                ("weapon_or_animal", "A weapon or dangerous animal"),
            )
            if form.flag(values.get(key))
        ],
        representative=values.get("representative") if form.flag(values.get("by_representative")) else None,
    )


# --- sending ------------------------------------------------------------------------------------


def who_is_told(deciders: people.Deciders, reporter_id: int, area: str) -> str:
    """Who the report reaches, truthfully: a manager the bot cannot reach yet (they never opened
    it) is not told until it can; the register keepers are told then too, as the notifications
    go (`decide.notifications`). Roles only, no names: the reporter learns nothing more."""
    managers = [m for m in deciders.managers if m.id != reporter_id]
    chosen = {m.id for m in managers}
    keepers = [k for k in deciders.keepers if k.id != reporter_id and k.id not in chosen]
    if any(m.id in deciders.reachable for m in managers):
        return f"The managers of {area} have been told"
    if managers:
        told = f"The managers of {area} will be told as soon as they can be reached"
    else:
        told = f"{area} has no manager named yet"
    if any(k.id in deciders.reachable for k in keepers):
        return f"{told}; the register keepers have been told"
    if keepers:
        return f"{told}; the register keepers will be told as soon as they can be reached"
    return told


def _sent(reference: str, told: str) -> CloseDialog:
    return CloseDialog(f"Reported as {reference}. {told}; your confirmation is in your chat with me.")


async def _already_sent(session: AsyncSession, token: str, actor: Actor) -> CloseDialog | None:
    incident = await incidents.by_submission_key(session, token)
    if incident is None or incident.reporter_id != actor.person_id:
        return None
    area = await session.get(ServiceArea, incident.service_area_id)
    deciders = await people.deciders(session, incident.service_area_id)
    return _sent(
        incident.reference, who_is_told(deciders, actor.person_id, area.name if area else "the service")
    )


async def _send(services: Services, actor: Actor, token: str) -> DialogAnswer:
    now = services.clock()
    # Everything a Send checks and its cards show is read first, in a transaction that only
    # reads; then the writes, in a transaction of their own, holding the register's writer (on
    # SQLite one at a time) for no more than them. The transaction that stores the incident
    # deletes the draft, so a draft found means no incident yet, and only a Send that finds none
    # asks whether this one was stored already (Teams retries invokes). Two Sends of one draft at
    # once both find it: the incident's submission key lets one store it.
    async with services.reading() as reading:
        reporter = actor.display_name or await decisions.name_of(reading, actor.person_id)
        read = await _read_for_send(reading, token, actor.person_id, now)
        if read is None:
            return await _already_sent(reading, token, actor) or GONE
    refused = _refused(services, read)
    if refused is not None:
        return await _show_again(services, actor, token, refused, now)
    area = read.draft.area
    assert area is not None and read.deciders is not None  # the "what" step refuses any other area
    try:
        async with services.sessions() as session:
            reference = await _written(
                session,
                services,
                actor,
                read.draft,
                area,
                read.customer,
                now,
                reporter=reporter,
                deciders=read.deciders,
                history=decide.history_view(services, read.history) if read.history else decide.NO_HISTORY,
            )
            await session.commit()
    except IntegrityError:
        # The same Send, retried by Teams, won the race in another request.
        async with services.reading() as reading:
            done = await _already_sent(reading, token, actor)
        return done or GONE
    services.outbox_written()
    return _sent(reference, who_is_told(read.deciders, actor.person_id, area.name))


@dataclass(frozen=True)
class _Refused:
    """A Send whose draft no longer passes a step's checks: nothing was written."""

    step: str
    values: dict[str, Any]
    errors: form.Errors


def _refused(services: Services, read: "_ForSend") -> _Refused | None:
    """The checks of every step again: something may have changed since each was checked."""
    draft, customer, area = read.draft, read.customer, read.draft.area
    for name in form.STEPS[:-1]:
        errors = _problems(
            services,
            name,
            draft.values,
            area_keys={area.key} if area else set(),
            existing_ids={customer.id} if customer else set(),
        )
        if errors:
            return _Refused(name, draft.values, errors)
    return None


async def _show_again(
    services: Services, actor: Actor, token: str, refused: _Refused, now: datetime
) -> DialogAnswer:
    """Keep the draft, and show the step that no longer passes."""
    async with services.sessions() as session:
        shown = await drafts.owned(session, token, actor.person_id, now=now)
        if shown is None:
            return GONE
        drafts.save(shown, step=refused.step, values=refused.values, now=now)
        card = await _render(session, services, shown, refused.errors)
        await session.commit()
    return ShowStep(card, report_cards.DIALOG_TITLE)


@dataclass(frozen=True)
class _ForSend:
    """What a Send checks and its cards show, read before anything is written."""

    draft: drafts.Held
    customer: Customer | None  # the customer chosen, if this reporter's search offered them
    deciders: people.Deciders | None  # the named service area's, if there is one
    history: decisions.History | None  # the chosen customer's


async def _read_for_send(session: AsyncSession, token: str, person_id: int, now: datetime) -> _ForSend | None:
    """The draft and what depends on it."""
    draft = await drafts.held(session, token, person_id, now=now)
    if draft is None:
        return None
    chosen = record_id(draft.values.get("customer_id"))
    if form.flag(draft.values.get("unidentified")):
        chosen = None  # a provisional record of its own, with no one's history
    customer = None
    if chosen is not None and chosen in set(draft.values.get("_match_ids", [])):
        customer = await customers.get_identifiable(session, chosen)
    deciders = await people.deciders(session, draft.area.id) if draft.area else None
    history = await decisions.history_of(session, customer.id) if customer else None
    return _ForSend(draft, customer, deciders, history)


async def _written(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    draft: drafts.Held,
    area: incidents.Area,
    customer: Customer | None,
    now: datetime,
    *,
    reporter: str,
    deciders: people.Deciders,
    history: tuple[decide.cards.HistoryView, bool],
) -> str:
    """The Send's writes: everything they need was read before."""
    values = draft.values
    unidentified = form.flag(values.get("unidentified"))
    if unidentified:
        customer = None  # never the one a search offered: a new, provisional record
    new_customer = customer is None
    if unidentified:
        customer = await customers.add(
            session,
            customers.NewCustomer(name=unidentified_name(values["known_as"]), unidentified=True),
            now=now,
        )
    elif customer is None:
        customer = await customers.add(
            session,
            customers.NewCustomer(
                name=values["new_name"],
                reference=values.get("new_reference") or None,
                email=values.get("new_email") or None,
                phone=values.get("new_phone") or None,
                address=values.get("new_address") or None,
                postcode=values.get("new_postcode") or None,
                support_needs=values.get("new_support_needs") or None,
                advocate=values.get("new_advocate") or None,
            ),
            now=now,
        )
    customer_id = customer.id
    category = Category(values["category"])
    occurred = form.occurred_at(values, services.zone)
    assert occurred is not None
    report = incidents.Report(
        customer_id=customer_id,
        reporter_id=actor.person_id,
        service_area_id=area.id,
        occurred_at=occurred,
        channel=ContactChannel(values["channel"]),
        category=category,
        behaviours=tuple(
            b.key for b in behaviour_choices(category) if b.key in form.multi(values.get("behaviours"))
        ),
        other_behaviour=(values.get("other_behaviour") or None)
        if OTHER_BEHAVIOUR.key in form.multi(values.get("behaviours"))
        else None,
        representative=(values.get("representative") or None)
        if form.flag(values.get("by_representative"))
        else None,
        description=values["description"],
        impact_on_staff=values.get("impact_on_staff") or None,
        impact_on_service=values.get("impact_on_service") or None,
        others_affected=tuple(
            p for p in AffectedParty if p.value in form.multi(values.get("others_affected"))
        ),
        ended_contact=form.flag(values.get("ended_contact")),
        left_premises=form.flag(values.get("left_premises")),
        police_called=form.flag(values.get("police_called")),
        police_reference=values.get("police_reference") or None
        if form.flag(values.get("police_called"))
        else None,
        reporter_wants_support=form.flag(values.get("wants_support")),
        physical_violence=form.flag(values.get("physical_violence")),
        weapon_or_animal=form.flag(values.get("weapon_or_animal")),
        # An elected member's action is not appealable: the capacity is fixed as they act.
        reported_as=(
            DecidingBody.ELECTED_MEMBER if actor.roles.has(Role.ELECTED_MEMBER) else DecidingBody.EMPLOYEE
        ).value,
        next_chase_at=first_chase(now, is_urgent(category), services.chase, services.zone, services.holidays),
    )
    year = now.astimezone(services.zone).year
    # Before the reference is issued: other reports queue for the year's numbers from then
    # until this commit.
    await drafts.remove(session, draft)
    incident = await incidents.record(session, report, now=now, year=year, submission_key=draft.token)
    read = incidents.ForCard(incident, customer, area, reporter)
    confirmation = _confirmation(services, actor, incident, who_is_told(deciders, actor.person_id, area.name))
    messages = decide.notifications(services, read, history=history, deciders=deciders, also=[confirmation])
    await outbox.enqueue_all(session, messages, now=now)
    # Last, so the audit head's lock is held only until the commit.
    reported = audit.Entry(
        actor.person_id,
        "incident.reported",
        "incident",
        incident.id,
        {
            "reference": incident.reference,
            "category": category.value,
            "service_area": area.key,
            "customer": customer_id,
            "urgent": incident.urgent,
        },
    )
    added = audit.Entry(
        actor.person_id, "customer.added", "customer", customer_id, {"incident": incident.reference}
    )
    await audit.record_many(session, [added, reported] if new_customer else [reported], now=now)
    return incident.reference


def _confirmation(services: Services, actor: Actor, incident: Incident, told: str) -> outbox.Queued:
    """The reporter's confirmation, queued with the managers' cards, after them."""
    confirmation = report_cards.confirmation_card(
        incident.reference,
        told,
        wants_support=incident.reporter_wants_support,
        wellbeing_support=services.wellbeing_support,
        urgent=incident.urgent,
    )
    return outbox.Queued(
        outbox.Recipient(person_id=actor.person_id),
        outbox.encode(card_message(confirmation, summary=f"Reported: {incident.reference}")),
        purpose="incident.confirmation",
        record_type="incident",
        record_id=incident.id,
        dedupe_key=f"incident:{incident.id}:confirmation",
    )


# --- commands -----------------------------------------------------------------------------------


@command(
    r"report",
    "report",
    "report an incident of unacceptable behaviour (opens a form)",
    phrases=("report an incident", "report a customer", "report someone", "log an incident", "new incident"),
)
async def _report(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    now = services.clock()
    async with services.sessions() as session:
        draft = await drafts.latest(session, actor.person_id, now=now)
    started = local_time(draft.updated_at, services.zone) if draft else None
    return [Reply(card=report_cards.launcher_card(started), summary="Report an incident")]


REFERENCE = r"INC-\d{4}-\d{5}"
NOTE_PURPOSE = "incident.note_added"
# The most notes one notification carries: more would be cut to fit Teams' message size.
NOTES_PER_MESSAGE = 20


async def _gather_note(session: AsyncSession, incident_id: int, reference: str, manager_id: int) -> bool:
    """Add the note just written to the manager's notification of notes on this incident that is
    still waiting, if there is one: a run of notes from one person then takes one message of
    Teams' pace for that manager, not one each. False if a message must be queued for it."""
    to = outbox.Recipient(person_id=manager_id)
    waiting = await outbox.waiting_to_gather(
        session, to, purpose=NOTE_PURPOSE, record_type="incident", record_id=incident_id
    )
    if waiting is None or waiting.gathered >= NOTES_PER_MESSAGE:
        return False
    # Every note by others since the waiting message was queued went into it, so it carries the
    # newest ones: those it had and this one.
    notes = await incidents.latest_notes(session, incident_id, count=waiting.gathered + 1, besides=manager_id)
    shown = [(n.author or "A member of staff", n.text) for n in notes]
    message = card_message(
        report_cards.notes_card(reference, shown), summary=report_cards.notes_heading(reference, len(shown))
    )
    return await outbox.gather(session, waiting.id, message, gathered=len(shown))


@command(
    rf"add\s+to\s+({REFERENCE})\b\s*[:\-–]?\s*(.*)",
    "add to INC-2026-00042 ...",
    "add information to an incident you reported",
    phrases=("add a note", "add information", "update my report"),
)
async def _add_to(services: Services, actor: Actor, match: re.Match[str]) -> list[Reply]:
    reference, words = match.group(1).upper(), match.group(2).strip()
    if not words:
        return [Reply(text=f"Type **add to {reference}** followed by what you want to add.")]
    if len(words) > DESCRIPTION_MAX:
        return [Reply(text=f"That is {len(words):,} characters: keep each addition to {DESCRIPTION_MAX:,}.")]
    now = services.clock()
    async with services.sessions() as session:
        incident = await incidents.by_reference(session, reference)
        roles = actor.roles
        allowed = incident is not None and (
            incident.reporter_id == actor.person_id
            or roles.is_register_keeper
            or any(
                m.id == actor.person_id
                for m in await people.with_role(
                    session, Role.MANAGER, service_area_id=incident.service_area_id
                )
            )
        )
        if incident is None or not allowed:
            await refusals.record(
                session,
                services,
                actor,
                "add to",
                record_type="incident",
                record_id=incident.id if incident else None,
            )
            # The same answer either way: a reference is no way to learn what the register holds.
            return [
                Reply(text=f"I can't find an incident {reference} that you can add to. Check the reference.")
            ]
        note = incidents.add_note(session, incident, author_id=actor.person_id, text=words, now=now)
        await session.flush()
        await audit.record(
            session,
            now=now,
            actor_id=actor.person_id,
            action="incident.note_added",
            record_type="incident",
            record_id=incident.id,
            detail={"note": note.id},
        )
        area = await session.get(ServiceArea, incident.service_area_id)
        for manager in await people.with_role(
            session, Role.MANAGER, service_area_id=incident.service_area_id
        ):
            if manager.id == actor.person_id:
                continue
            if await _gather_note(session, incident.id, reference, manager.id):
                continue
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=manager.id),
                card_message(
                    report_cards.note_card(reference, actor.display_name or "A member of staff", words),
                    summary=f"More information on {reference}",
                ),
                purpose=NOTE_PURPOSE,
                now=now,
                record_type="incident",
                record_id=incident.id,
                dedupe_key=f"note:{note.id}:{manager.id}",
            )
        await session.commit()
    services.outbox_written()
    area_name = area.name if area else "the service"
    return [Reply(text=f"Added to {reference}. The managers of {area_name} can see it.")]
