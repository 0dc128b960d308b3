"""Managers decide in the notification card; the register records the decision and its letter.

Every action is checked against the register on arrival: who the person is and what roles they
hold now, which service the incident belongs to, whether it is already decided. Nothing on the
card is trusted but the ids it names.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cards import decision as cards
from cards.elements import Card, bullets, card, heading, text
from cards.formatting import local_date, local_time
from cards.report import Summary
from dialogs import decision_form, letter_links, permissions, records, refusals
from dialogs.ids import record_id
from dialogs.notify import card_message
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Services, ShowStep
from policy.appeals import in_a_line
from policy.categories import CATEGORIES, Category, behaviour_titles, is_urgent
from policy.channels import CHANNEL_LABELS, ContactChannel
from policy.chasing import waited
from policy.deciding import DecisionDraft, problems, restorative_required
from policy.decisions import (
    DECISION_LABELS,
    LETTER_METHODS,
    RESTORATIVE_STEP_LABELS,
    RESTRICTION_LABELS,
    SCOPE_LABELS,
    DecidingBody,
    DecisionKind,
    LetterKind,
    RestorativeStep,
    RestrictionScope,
    RestrictionStatus,
    RestrictionType,
)
from policy.incidents import AFFECTED_LABELS, AffectedParty
from policy.permissions import Case, Facts
from policy.roles import Role, Roles
from storage import audit, decisions, incidents, outbox, people
from storage.models import Customer, Decision, Incident, Letter, Restriction

NOTIFY_PURPOSE = "incident.reported"
NO_LINKS = "Letters cannot be downloaded: no public address is configured."


def _int(data: Mapping[str, Any], key: str) -> int | None:
    return record_id(data.get(key))


def _category_short(category: str) -> str:
    return f"Category {category}"


# --- what the card shows ------------------------------------------------------------------------


def customer_label(customer: Customer | None) -> str:
    """Name · reference · postcode: enough to tell customers apart, no more."""
    if customer is None:
        return ""
    if customer.anonymised_at is not None:
        return "(anonymised)"
    return " · ".join(p for p in (customer.name, customer.customer_reference, customer.postcode) if p)


def summary_of(services: Services, read: incidents.ForCard) -> Summary:
    incident, customer, area = read.incident, read.customer, read.area
    category = CATEGORIES[Category(incident.category)]
    immediate = [
        label
        for done, label in (
            (incident.ended_contact, "Contact ended"),
            (incident.left_premises, "Left the premises"),
            (incident.police_called, "Police called"),
        )
        if done
    ]
    if incident.police_called and incident.police_reference:
        immediate[-1] = f"Police called (reference {incident.police_reference})"
    name = customer.name if customer and customer.anonymised_at is None else "(anonymised)"
    details = [d for d in (customer.customer_reference, customer.postcode) if d] if customer else []
    known = customer if customer and customer.anonymised_at is None else None
    return Summary(
        customer=" · ".join([name, *details]),
        customer_details=[
            ("Support needs", known.support_needs if known else None),
            ("Advocate", known.advocate if known else None),
            ("Letters", records.letters_asked(known) if known else None),
        ],
        when=local_time(incident.occurred_at, services.zone),
        channel=CHANNEL_LABELS[ContactChannel(incident.channel)],
        service_area=area.name if area else "",
        category=category.label,
        behaviours=behaviour_titles(
            Category(incident.category), incident.behaviours, incident.other_behaviour
        ),
        description=incident.description,
        impact_on_staff=incident.impact_on_staff,
        impact_on_service=incident.impact_on_service,
        others_affected=[AFFECTED_LABELS[p] for p in AffectedParty if p.value in incident.others_affected],
        immediate_action=immediate,
        wants_support=incident.reporter_wants_support,
        urgent=is_urgent(Category(incident.category)),
        aggravating=[
            label
            for on, label in (
                (incident.physical_violence, "Physical violence"),
                (incident.weapon_or_animal, "A weapon or dangerous animal"),
            )
            if on
        ],
        representative=incident.representative,
    )


def restriction_period(r: Restriction | decisions.PastRestriction) -> str:
    return f"From {local_date(r.starts_on)}" + (
        f" until {local_date(r.ends_on)}" if r.ends_on else ", no end date"
    )


def restriction_review(r: Restriction) -> str:
    return local_date(r.review_due_on) if r.review_due_on else f"No review: {r.no_review_reason}"


STATE_WORDS = {
    RestrictionStatus.VARIED.value: "Varied",
    RestrictionStatus.LIFTED.value: "Lifted",
    RestrictionStatus.EXPIRED.value: "Ended",
}


def restriction_state(services: Services, r: Restriction) -> str:
    """In force, or when and why it stopped: the card shows the case as it stands now."""
    if r.status == RestrictionStatus.ACTIVE.value:
        return "In force (replaces an earlier one)" if r.replaces_id else "In force"
    when = f" {local_date(r.ended_at.astimezone(services.zone).date())}" if r.ended_at else ""
    why = f": {r.ended_reason}" if r.ended_reason else ""
    return f"{STATE_WORDS.get(r.status, r.status.capitalize())}{when}{why}"


async def customer_history(
    session: AsyncSession, services: Services, customer_id: int, *, excluding_incident: int | None
) -> tuple[cards.HistoryView, bool]:
    """The customer's history as an incident's card shows it (besides that incident)."""
    history = await decisions.history_of(session, customer_id, excluding_incident=excluding_incident)
    return history_view(services, history)


def history_view(services: Services, history: decisions.History) -> tuple[cards.HistoryView, bool]:
    view = cards.HistoryView(
        incidents=[
            f"{i.reference} · {local_date(i.occurred_at.astimezone(services.zone).date())} · "
            f"{_category_short(i.category)} · {i.status}"
            for i in history.incidents
        ],
        restorative_steps=[
            f"{RESTORATIVE_STEP_LABELS[RestorativeStep(step.step)]} "
            f"({local_date(step.day(services.zone))}"
            + (f", by {step.taken_by}" if step.taken_by else "")
            + ")"
            for step in history.restorative_steps
        ],
        restrictions=[
            f"{RESTRICTION_LABELS[RestrictionType(r.type)]} · {r.status} · {restriction_period(r)}"
            for r in history.restrictions
        ],
        appeals=[in_a_line(a.route, a.outcome) for a in history.appeals],
    )
    # Whether the customer counts as warned: a recorded approach explained what may follow, recently.
    return view, history.warned_on(services.today(), services.zone, services.warning_months) is not None


def _letter_status(letter: Letter) -> str:
    if letter.sent_on:
        return f"Sent {local_date(letter.sent_on)} ({LETTER_METHODS.get(letter.method or '', letter.method)})"
    if letter.not_appropriate_reason:
        return f"Not appropriate to explain: {letter.not_appropriate_reason}"
    return "Not yet recorded as sent"


async def _decision_view(
    session: AsyncSession,
    services: Services,
    decision: Decision,
    written: tuple[list[Restriction], Letter | None] | None = None,
    by: str | None = None,
) -> cards.DecisionView:
    """`written`: the restrictions and letter the caller has just written, so they are not read back."""
    if written is None:
        restrictions = await decisions.restrictions_of(session, decision.id)
        letter = await decisions.letter_for(session, decision.id)
    else:
        restrictions, letter = written
    by = by or await decisions.name_of(session, decision.decided_by_id)
    return decision_view(services, decision, restrictions, letter, by)


def decision_view(
    services: Services, decision: Decision, restrictions: list[Restriction], letter: Letter | None, by: str
) -> cards.DecisionView:
    extra: list[tuple[str, str | None]] = [
        ("Restorative steps not possible because", decision.restorative_not_possible_reason),
        ("Without prior warning because", decision.without_prior_warning_reason),
        ("Needs and adjustments considered", decision.needs_considered_note),
        ("Reasonable adjustments", decision.reasonable_adjustments),
        ("Signposting", decision.signposting),
        ("Follow-up", local_date(decision.follow_up_on) if decision.follow_up_on else None),
        ("Police reference", decision.police_reference),
    ]
    return cards.DecisionView(
        kind=DecisionKind(decision.kind),
        by=by,
        at=local_time(decision.decided_at, services.zone),
        reasons=decision.reasons,
        facts=extra,
        restrictions=[
            cards.RestrictionView(
                label=RESTRICTION_LABELS[RestrictionType(r.type)],
                details=r.details,
                scope=SCOPE_LABELS[RestrictionScope(r.scope)],
                instructions=r.frontline_instructions,
                period=restriction_period(r),
                review=restriction_review(r),
                state=restriction_state(services, r),
            )
            for r in restrictions
        ],
        letter=cards.LetterView(
            letter.id, _letter_status(letter), not (letter.sent_on or letter.not_appropriate_reason)
        )
        if letter
        else None,
    )


NO_HISTORY = (cards.HistoryView(incidents=[], restorative_steps=[], restrictions=[], appeals=[]), False)


@dataclass
class IncidentViews:
    """An incident's card as every viewer sees it, read once; whether they may decide (the
    buttons) is added per viewer, so a card is built once for each distinct set of buttons."""

    shared: cards.IncidentView
    service_area: str
    reporter_id: int
    deciders: people.Deciders
    named_decider: int | None = None
    _built: dict[tuple[bool, bool], Card] = field(default_factory=dict)

    @property
    def facts(self) -> Facts:
        # The deciding rules (dialogs/permissions.py) need only the service, the reporter and the
        # manager a keeper named: nothing else has happened on an undecided case.
        return Facts(case=Case(self.service_area, self.reporter_id, named_decider=self.named_decider))

    def for_viewer(self, person_id: int, roles: Roles) -> cards.IncidentView:
        return replace(
            self.shared,
            can_decide=bool(permissions.allows(cards.SUBMIT, roles, person_id, self.facts)),
            can_name=self.shared.decision is None
            and bool(permissions.allows(cards.NAME, roles, person_id, self.facts)),
            reviewers=[r for r in self.shared.reviewers if r[0] != str(person_id)],
        )

    def card_for(self, person_id: int, roles: Roles) -> Card:
        view = self.for_viewer(person_id, roles)
        # The reviewers list differs per viewer but is only on the decision form, not this card.
        key = (view.can_decide, view.can_name)
        if key not in self._built:
            self._built[key] = cards.incident_card(view)
        return self._built[key]


async def incident_views(
    session: AsyncSession,
    services: Services,
    read: incidents.ForCard,
    *,
    history: tuple[cards.HistoryView, bool] | None = None,
    deciders: people.Deciders | None = None,
    undecided: bool = False,
) -> IncidentViews:
    """Read what the card shows besides `read` (the incident, its customer, service, reporter and
    decision, as `incidents.for_card` reads them). A caller that has just written (or read)
    something the card shows passes it in: the history, the service's deciders, `undecided` for
    an incident just reported."""
    incident = read.incident
    if deciders is None:
        deciders = await people.deciders(session, incident.service_area_id)
    if history is None:
        history = (
            await customer_history(session, services, incident.customer_id, excluding_incident=incident.id)
            if read.has_history
            else NO_HISTORY
        )
    decision = None if undecided else read.decision
    decision_view = await _decision_view(session, services, decision) if decision else None
    named = incident.named_decider_id
    return views_of(
        services,
        read,
        history=history,
        deciders=deciders,
        decision=decision_view,
        named=await decisions.name_of(session, named) if named else None,
    )


def views_of(
    services: Services,
    read: incidents.ForCard,
    *,
    history: tuple[cards.HistoryView, bool],
    deciders: people.Deciders,
    decision: cards.DecisionView | None = None,
    named: str | None = None,
) -> IncidentViews:
    """`incident_views` from what it read, without reading anything more; `named`: the name of the
    manager a keeper named to decide, if one was."""
    incident = read.incident
    history_view, restorative_recorded = history
    recipients = [p for p in [*deciders.managers, *deciders.keepers] if p.id != incident.reporter_id]
    refresh_ids = [p.teams_user_id for p in recipients if p.teams_user_id]
    # Reviewers decide at each review: managers of the service, not the register keepers.
    managers = [p for p in deciders.managers if p.id != incident.reporter_id]
    now = services.clock()
    shared = cards.IncidentView(
        incident_id=incident.id,
        customer_id=incident.customer_id,
        reference=incident.reference,
        summary=summary_of(services, read),
        reporter=read.reporter,
        history=history_view,
        decision=decision,
        restorative_recorded=restorative_recorded,
        restorative_required=restorative_required(Category(incident.category)),
        refresh_user_ids=refresh_ids[:60],  # Teams refreshes for at most 60 listed users
        reviewers=[(str(p.id), p.display_name or p.email or f"person {p.id}") for p in managers],
        workspace_url=services.workspace_link(f"incident/{incident.id}") if services.workspace_link else None,
        # How long it has waited, as at when the card is built: Teams refreshes it when viewed.
        waiting=waited(incident.reported_at, now)
        if decision is None and incident.reported_at and now - incident.reported_at >= timedelta(hours=1)
        else None,
        named_decider=f"{named}: {incident.named_decider_reason}" if named else None,
        support_contact=services.wellbeing_support if incident.reporter_wants_support else None,
    )
    return IncidentViews(
        shared, read.area.key if read.area else "", incident.reporter_id, deciders, incident.named_decider_id
    )


def views_after(
    services: Services,
    before: IncidentViews,
    written: tuple[Decision, list[Restriction], Letter | None],
    *,
    by: str,
    history: tuple[cards.HistoryView, bool] | None,
) -> IncidentViews:
    """The views read before a decision, with the decision just written by `by` (named); `history`:
    the customer's history read again, if the decision added to it. No reads."""
    decision, restrictions, letter = written
    shown, restorative_recorded = history or (before.shared.history, before.shared.restorative_recorded)
    shared = replace(
        before.shared,
        history=shown,
        restorative_recorded=restorative_recorded,
        decision=decision_view(services, decision, restrictions, letter, by),
        waiting=None,
    )
    return IncidentViews(
        shared, before.service_area, before.reporter_id, before.deciders, before.named_decider
    )


def decider_name(views: IncidentViews, person_id: int) -> str | None:
    """As decisions.name_of names a decider, without reading again who was just read."""
    deciders = views.deciders
    return next(
        (
            d.display_name or d.email or "a colleague"
            for d in [*deciders.managers, *deciders.keepers]
            if d.id == person_id
        ),
        None,
    )


async def view_of(
    session: AsyncSession, services: Services, read: incidents.ForCard, actor: Actor
) -> cards.IncidentView:
    views = await incident_views(session, services, read)
    return views.for_viewer(actor.person_id, actor.roles)


def notifications(
    services: Services,
    read: incidents.ForCard,
    *,
    history: tuple[cards.HistoryView, bool],
    deciders: people.Deciders,
    also: Sequence[outbox.Queued] = (),
) -> list[outbox.Queued]:
    """The decision card to each manager of the service; the register keepers too when a manager
    cannot be reached yet (or the service has none), so no incident waits unseen.

    `read`: the incident just recorded, with what its card names; `history` and `deciders`: the
    customer's history and the service's deciders, read before the incident was written;
    `also`: messages to queue after the managers', in the same statement. Reads nothing."""
    incident = read.incident
    views = views_of(services, read, history=history, deciders=deciders)
    managers = [m for m in deciders.managers if m.id != incident.reporter_id]
    recipients = list(managers)
    if not managers or any(m.id not in deciders.reachable for m in managers):
        chosen = {m.id for m in managers}
        recipients += [k for k in deciders.keepers if k.id != incident.reporter_id and k.id not in chosen]
    area = read.area.name if read.area else ""
    encoded = _encoded_cards(
        views, f"{'URGENT ' if incident.urgent else ''}Incident {incident.reference} reported for {area}"
    )
    messages = [
        outbox.Queued(
            outbox.Recipient(person_id=person.id),
            encoded(person.id, deciders.roles[person.id]),
            purpose=NOTIFY_PURPOSE,
            record_type="incident",
            record_id=incident.id,
            dedupe_key=f"incident:{incident.id}:reported:{person.id}",
            # A category-one card overtakes what else waits for them (the updates keep its lane).
            priority=outbox.URGENT if incident.urgent else outbox.NORMAL,
        )
        for person in recipients
    ]
    return [*messages, *also]


def _encoded_cards(views: IncidentViews, summary: str) -> Callable[[int, Roles], str]:
    """Each person's card as the outbox stores it: a card several people share (the views build
    one per set of buttons) is encoded once, however many it goes to."""
    encoded: dict[int, str] = {}

    def encode(person_id: int, roles: Roles) -> str:
        card = views.card_for(person_id, roles)
        if id(card) not in encoded:
            encoded[id(card)] = outbox.encode(card_message(card, summary=summary))
        return encoded[id(card)]

    return encode


@dataclass(frozen=True)
class SentCopies:
    """The copies of an incident's card to replace, and the roles their people hold."""

    sent: list[outbox.Copy]
    roles: dict[int, Roles]


async def _sent_copies(
    session: AsyncSession, views: IncidentViews, sent: list[outbox.Copy] | None = None
) -> SentCopies:
    """The copies of the card to replace (`sent`: as read with the card, if they were)."""
    incident_id = views.shared.incident_id
    if sent is None:
        sent = await outbox.copies(session, "incident", incident_id, purpose=NOTIFY_PURPOSE)
    sent = [s for s in sent if s.person_id is not None and s.status != outbox.FAILED]
    # Roles as held now: someone sent the card may since have lost (or gained) the right to
    # decide. The deciders' roles were read with the card's other reads already.
    known = views.deciders.roles
    others = {s.person_id for s in sent if s.person_id is not None and s.person_id not in known}
    return SentCopies(sent, {**known, **await people.roles_of(session, others)} if others else known)


async def refresh_sent_cards(
    session: AsyncSession, services: Services, incident_id: int, now: datetime, *, version: str
) -> None:
    """Every manager's copy of the incident's card shows the case as it stands now (after an
    appeal changed its restrictions, say)."""
    read = await incidents.for_card(session, incident_id)
    if read is not None:
        await _update_sent_cards(session, await incident_views(session, services, read), now, version)


async def _update_sent_cards(
    session: AsyncSession, views: IncidentViews, now: datetime, version: str
) -> None:
    """Replace every manager's copy of the card, so nobody acts on a stale one."""
    copies = await _sent_copies(session, views)
    await outbox.enqueue_all(session, card_updates(views, version, copies), now=now)


def card_updates(
    views: IncidentViews, version: str, copies: SentCopies, *, also: Sequence[outbox.Queued] = ()
) -> list[outbox.Queued]:
    """The updates of every copy of the card sent (`_sent_copies`), then `also`. No reads."""
    incident_id = views.shared.incident_id
    sent, roles = copies.sent, copies.roles
    encoded = _encoded_cards(views, f"Incident {views.shared.reference} updated")
    messages = [
        outbox.Queued(
            outbox.Recipient(person_id=message.person_id),
            encoded(message.person_id, roles[message.person_id]),
            purpose="incident.card_updated",
            record_type="incident",
            record_id=incident_id,
            dedupe_key=f"incident:{incident_id}:update:{version}:{message.id}",
            updates_id=message.id,
        )
        for message in sent
        if message.person_id is not None  # `_sent_copies` keeps only people's copies
    ]
    return [*messages, *also]


# --- universal actions --------------------------------------------------------------------------


OUT_OF_DATE = "That button is from an older card. Nothing was changed: use the card as it is now."


async def on_action(services: Services, actor: Actor, verb: str, data: Mapping[str, Any]) -> Card:
    """Answer an `Action.Execute` on a managers' card with the card to show now."""
    if verb in (
        cards.LETTER_LINK,
        cards.LETTER_SENT_FORM,
        cards.LETTER_SENT,
        cards.LETTER_NOT_APPROPRIATE_FORM,
        cards.LETTER_NOT_APPROPRIATE,
    ):
        async with services.sessions() as session:
            return await _letter_action(session, services, actor, verb, data)
    if verb == cards.RECORD:
        # From a card sent before the record opened in a dialog: it names no incident to show.
        return card(
            [text("The full record now opens in a dialog: press Open full record on the latest card.")]
        )
    # What the card shows is read in a transaction that only reads; what is written (a view, a
    # refusal, a decision) goes in a transaction of its own, holding the register's writer (on
    # SQLite one at a time) for the writes alone.
    async with services.reading() as session:
        allowed = await _allowed(session, services, actor, verb, _int(data, "incident"), copies=False)
    if isinstance(allowed, _NotAllowed):
        await allowed.record(services, actor, verb)
        return cards.no_access_card(allowed.reference or None)
    _, views, _ = allowed
    view = views.for_viewer(actor.person_id, actor.roles)
    if verb == cards.REFRESH:
        # Opening the card reads the customer's record: every read is in the audit trail.
        async with services.sessions() as session:
            await audit.record(
                session,
                now=services.clock(),
                actor_id=actor.person_id,
                action="incident.viewed",
                record_type="incident",
                record_id=view.incident_id,
            )
            await session.commit()
        return cards.incident_card(view)
    # Deciding and the full record open in dialogs (`on_dialog`); a card sent before that
    # changed is answered with the card as it is now.
    return cards.incident_card(view, notice=OUT_OF_DATE)


async def _allowed(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    verb: str,
    incident_id: int | None,
    *,
    copies: bool,
) -> "tuple[incidents.ForCard, IncidentViews, list[outbox.Copy] | None] | _NotAllowed":
    """The incident and its views if the actor may decide on it; else the refusal to record, once
    the reading `session` is closed (a transaction never waits for another's connection while
    holding one: under load the pool would run out)."""
    found = None
    if incident_id is not None:
        found = await _read_for_card(session, services, incident_id, copies=copies)
    if found is None:
        return _NotAllowed(incident_id, "")
    read, deciders, history, sent = found
    views = await incident_views(session, services, read, deciders=deciders, history=history)
    # The verb's own rule: viewing (managers, a named manager, keepers), deciding (managers), or
    # naming a manager to decide (keepers).
    if not permissions.allows(verb, actor.roles, actor.person_id, views.facts):
        return _NotAllowed(read.incident.id, read.incident.reference)
    return read, views, sent


@dataclass(frozen=True)
class _NotAllowed:
    """A refusal to record: the incident asked about, and its reference ("" if not found)."""

    incident_id: int | None
    reference: str

    async def record(self, services: Services, actor: Actor, verb: str) -> None:
        await refusals.record_alone(services, actor, verb, record_type="incident", record_id=self.incident_id)


async def on_dialog(services: Services, actor: Actor, verb: str, data: Mapping[str, Any]) -> DialogAnswer:
    """The decision form and the full record, in a dialog opened from the managers' card."""
    if verb == cards.RECORD:
        async with services.sessions() as session:
            record = await records.full_record(session, services, actor, _int(data, "customer"))
        return ShowStep(record, "Customer record")
    # Everything is read in a transaction that only reads, closed before anything is written: a
    # transaction that waited for another's connection while holding one would, under load, run
    # the pool dry.
    async with services.reading() as session:
        # A decision's submission reads the copies of the card it replaces with the rest.
        allowed = await _allowed(
            session, services, actor, verb, _int(data, "incident"), copies=verb == cards.SUBMIT
        )
        answer: DialogAnswer | _Decision | _NotAllowed = allowed  # type: ignore[assignment]
        if not isinstance(allowed, _NotAllowed):
            answer = await _step(session, services, actor, verb, data, allowed)
    if isinstance(answer, _NotAllowed):
        await answer.record(services, actor, verb)
        return CloseDialog(cards.no_access_text(answer.reference or None))
    if isinstance(answer, _Decision):
        return await _record(services, actor, answer)
    if isinstance(answer, _Naming):
        return await _name(services, actor, answer)
    return answer


# --- a keeper names a manager to decide ---------------------------------------------------------


@dataclass(frozen=True)
class _Naming:
    """A manager named to decide, checked and ready to record."""

    incident_id: int
    reference: str
    manager_id: int
    manager: str
    reason: str
    urgent: bool


async def _naming(
    session: AsyncSession,
    services: Services,
    verb: str,
    data: Mapping[str, Any],
    read: incidents.ForCard,
    views: IncidentViews,
) -> "DialogAnswer | _Naming":
    """The form naming a manager (any service's, never the reporter), or the naming checked."""
    incident = read.incident
    candidates = [
        (m.id, m.display_name or m.email or f"person {m.id}")
        for m in await people.with_role(session, Role.MANAGER)
        if m.id != incident.reporter_id
    ]
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    if verb == cards.NAME:
        chosen = record_id(data.get("manager"))
        if chosen not in {i for i, _ in candidates}:
            errors["manager"] = "Choose a manager from the list"
        reason = str(data.get("reason") or "").strip()
        if not reason:
            errors["reason"] = (
                "Say why: no manager of the service can be reached, or all are conflicted (and how)"
            )
        if not errors and chosen is not None:
            name = next(n for i, n in candidates if i == chosen)
            return _Naming(incident.id, incident.reference, chosen, name, reason[:2000], incident.urgent)
    view = views.shared
    form = cards.name_form(view, [(str(i), n) for i, n in candidates], values, errors)
    return ShowStep(form, f"Name a manager to decide on {incident.reference}")


async def _name(services: Services, actor: Actor, naming: _Naming) -> DialogAnswer:
    """Record the manager named, send them the card with its buttons, and update every copy."""
    now = services.clock()
    async with services.sessions() as session:
        claimed = await session.execute(
            update(Incident)
            .where(Incident.id == naming.incident_id, Incident.status == "reported")
            .values(named_decider_id=naming.manager_id, named_decider_reason=naming.reason)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return CloseDialog("This incident is already decided. Nothing was changed.")
        read = await incidents.for_card(session, naming.incident_id)
        assert read is not None
        views = await incident_views(session, services, read)
        roles = await people.roles_for(session, naming.manager_id)
        # The copies already sent first: the named manager's own card is new, not an update.
        await _update_sent_cards(session, views, now, version=f"named-{naming.manager_id}")
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=naming.manager_id),
            card_message(
                views.card_for(naming.manager_id, roles),
                summary=f"{'URGENT ' if naming.urgent else ''}You are asked to decide on {naming.reference}",
            ),
            purpose=NOTIFY_PURPOSE,
            now=now,
            record_type="incident",
            record_id=naming.incident_id,
            dedupe_key=f"incident:{naming.incident_id}:named:{naming.manager_id}",
            priority=outbox.URGENT if naming.urgent else outbox.NORMAL,
        )
        await audit.record(
            session,
            now=now,
            actor_id=actor.person_id,
            action="incident.decider_named",
            record_type="incident",
            record_id=naming.incident_id,
            detail={"manager": naming.manager_id},
        )
        await session.commit()
    services.outbox_written()
    return CloseDialog(
        f"{naming.manager} is asked to decide on {naming.reference}; the card with its buttons is in "
        "their chat with me."
    )


async def _step(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    verb: str,
    data: Mapping[str, Any],
    allowed: tuple[incidents.ForCard, IncidentViews, list[outbox.Copy] | None],
) -> "DialogAnswer | _Decision":
    """The dialog's next answer, or a decision ready to record, from what `session` reads."""
    read, views, sent = allowed
    view = views.for_viewer(actor.person_id, actor.roles)
    if view.decision is not None:
        return CloseDialog(f"Already decided by {view.decision.by}, {view.decision.at}. Nothing was changed.")
    if verb in (cards.NAME_FORM, cards.NAME):
        return await _naming(session, services, verb, data, read, views)
    try:
        kind = DecisionKind(data.get("kind"))
    except ValueError:
        return CloseDialog("That is not one of the policy's decisions.")
    slots = decision_form.slots_of(data, cards.MAX_RESTRICTIONS)
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    if verb == cards.FORM:
        return _form_step(services, view, kind, {**_formats_of(read.customer), **values}, {}, slots)
    if verb == cards.SUBMIT:
        return await _submit(session, services, actor, read, views, kind, data, values, slots, sent)
    return CloseDialog("That action is not one I know.")


def _formats_of(customer: Customer | None) -> dict[str, str]:
    """The customer's recorded letters, for the form to show and the manager to confirm."""
    if customer is None:
        return {}
    recorded = {
        "letter_format": customer.letter_format or "",
        "letter_format_detail": customer.letter_format_detail or "",
        "language": customer.language or "",
    }
    return {k: v for k, v in recorded.items() if v}


def _form_step(
    services: Services,
    view: cards.IncidentView,
    kind: DecisionKind,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    slots: int,
) -> ShowStep:
    form = cards.decision_form(
        view, kind, values, errors, slots=slots, restriction_defaults=_defaults(services)
    )
    return ShowStep(form, f"Decide on {view.reference}")


async def _read_for_card(
    session: AsyncSession, services: Services, incident_id: int, *, copies: bool
) -> (
    tuple[incidents.ForCard, people.Deciders, tuple[cards.HistoryView, bool], list[outbox.Copy] | None] | None
):
    """The incident as its card shows it, its service's deciders, its customer's history and,
    with `copies`, the copies of its card sent."""
    read = await incidents.for_card(session, incident_id)
    if read is None:
        return None
    deciders = await people.deciders(session, read.incident.service_area_id)
    history = NO_HISTORY
    if read.has_history:
        past = await decisions.history_of(session, read.incident.customer_id, excluding_incident=incident_id)
        history = history_view(services, past)
    sent = None
    if copies:
        sent = await outbox.copies(session, "incident", incident_id, purpose=NOTIFY_PURPOSE)
    return read, deciders, history, sent


def _defaults(services: Services) -> dict[str, str]:
    today = services.clock().astimezone(services.zone).date()
    return {
        "starts_on": today.isoformat(),
        "review_due_on": services.reviews.default_review(today).isoformat(),
        "scope": RestrictionScope.SERVICE.value,
    }


async def _submit(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    read: incidents.ForCard,
    views: IncidentViews,
    kind: DecisionKind,
    data: Mapping[str, Any],
    values: dict[str, str],
    slots: int,
    sent: list[outbox.Copy] | None = None,
) -> "DialogAnswer | _Decision":
    incident = read.incident
    view = views.for_viewer(actor.person_id, actor.roles)
    draft, errors = decision_form.parse(kind, data, slots=slots)
    today = services.clock().astimezone(services.zone).date()
    if draft is not None:
        errors = problems(
            draft,
            category=Category(incident.category),
            restorative_recorded=view.restorative_recorded,
            today=today,
            reviews=services.reviews,
            warning_months=services.warning_months,
        )
    # A named reviewer must be one the register allows (the card's list can be forged).
    reviewer = actor.person_id
    if kind is DecisionKind.ACTIVE_MANAGEMENT and data.get("reviewer") not in (None, "", cards.REVIEWER_SELF):
        named = record_id(data.get("reviewer"))
        allowed = {int(v) for v, _ in view.reviewers}
        if named is None or named not in allowed:
            errors = {**errors, "reviewer": "Choose the reviewer from the list"}
        else:
            reviewer = named
    if errors or draft is None:
        return _form_step(services, view, kind, values, errors, slots)
    # Read before the claim: a copy is never added once the incident exists.
    copies = await _sent_copies(session, views, sent)
    by = decider_name(views, actor.person_id) or await decisions.name_of(session, actor.person_id)
    return _Decision(incident, kind, draft, views, copies, reviewer, by)


@dataclass(frozen=True)
class _Decision:
    """A decision checked and ready to record, with what its cards need, read beforehand."""

    incident: Incident
    kind: DecisionKind
    draft: DecisionDraft
    views: IncidentViews
    copies: SentCopies
    reviewer: int
    by: str


async def _record(services: Services, actor: Actor, decision: _Decision) -> DialogAnswer:
    """Record a decision in a transaction of its own, holding the register's writer for its writes."""
    incident = decision.incident
    async with services.sessions() as writing:
        decided = await _decided(
            writing,
            services,
            actor,
            incident,
            decision.draft,
            decision.views,
            decision.copies,
            reviewer=decision.reviewer,
            by=decision.by,
            now=services.clock(),
        )
    if not decided:
        # Read anew: the decision that won was not there when the incident was first read.
        async with services.reading() as again:
            winner = await decisions.first_for(again, incident.id)
            who = await decisions.name_of(again, winner.decided_by_id) if winner else "another manager"
        when = local_time(winner.decided_at, services.zone) if winner else "just now"
        return CloseDialog(f"Already decided by {who}, {when}. Nothing was changed.")
    services.outbox_written()
    # The dialog closes; every copy of the card, this manager's too, is updated from the outbox.
    return CloseDialog(
        f"Decided: {DECISION_LABELS[decision.kind]}. Incident {incident.reference} is recorded as "
        "decided, and the card shows the decision."
    )


async def _decided(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    incident: Incident,
    draft: DecisionDraft,
    views: IncidentViews,
    copies: SentCopies,
    *,
    reviewer: int,
    by: str,
    now: datetime,
) -> bool:
    """A manager's decision, committed: the claim, the decision, its letter, the updated cards
    and the audit events; False if another manager's decision won the claim. Everything it needs
    was read before."""
    if not await decisions.claim(session, incident.id):
        return False
    decision, restrictions = await decisions.record(
        session,
        incident,
        draft,
        reviewer_id=reviewer,
        decided_by=actor.person_id,
        body=DecidingBody.MANAGER,
        now=now,
        holidays=services.holidays,
        decided_on=services.today(),
    )
    letter = None
    if decisions.needs_letter(draft.kind):
        letter = await decisions.add_letter(
            session,
            LetterKind.DECISION,
            customer_id=incident.customer_id,
            produced_by=actor.person_id,
            now=now,
            decision_id=decision.id,
        )
    # The customer's history changes only if this decision added restorative steps or restrictions.
    history = None
    if draft.restorative_steps or draft.restrictions:
        past = await decisions.history_of(session, incident.customer_id, excluding_incident=incident.id)
        history = history_view(services, past)
    views = views_after(services, views, (decision, restrictions, letter), by=by, history=history)
    updates = card_updates(
        views,
        f"decision-{decision.id}",
        copies,
        also=[_outcome_for_reporter(incident, decision, restrictions)],
    )
    await outbox.enqueue_all(session, updates, now=now)
    # Last, so the audit head's lock is held only until the commit.
    await audit.record_many(
        session,
        [
            audit.Entry(
                actor.person_id,
                "decision.recorded",
                "incident",
                incident.id,
                {
                    "decision": decision.id,
                    "kind": draft.kind.value,
                    "restrictions": [r.id for r in restrictions],
                    "without_prior_warning": decision.without_prior_warning,
                    "letter": letter.id if letter else None,
                },
            ),
            *(
                audit.Entry(
                    actor.person_id,
                    "restriction.applied",
                    "restriction",
                    r.id,
                    {
                        "type": r.type,
                        "customer": r.customer_id,
                        "review_due_on": r.review_due_on.isoformat() if r.review_due_on else None,
                    },
                )
                for r in restrictions
            ),
        ],
        now=now,
    )
    await session.commit()
    return True


def _outcome_for_reporter(
    incident: Incident, decision: Decision, restrictions: list[Restriction]
) -> outbox.Queued:
    """The reporter is told the decision, and what to do if the customer contacts them."""
    body = [
        heading(f"Decision on {incident.reference}", size="Medium"),
        text(f"A manager decided: {DECISION_LABELS[DecisionKind(decision.kind)]}."),
    ]
    if restrictions:
        body += [
            text("If the customer contacts you", weight="Bolder"),
            bullets(r.frontline_instructions.replace("\n", " ") for r in restrictions),
        ]
    body.append(text("Thank you for reporting it.", subtle=True))
    return outbox.Queued(
        outbox.Recipient(person_id=incident.reporter_id),
        outbox.encode(card_message(card(body), summary=f"Decision on {incident.reference}")),
        purpose="incident.outcome",
        record_type="incident",
        record_id=incident.id,
        dedupe_key=f"incident:{incident.id}:outcome:{decision.id}",
    )


# --- the letter ---------------------------------------------------------------------------------


async def _letter_action(
    session: AsyncSession, services: Services, actor: Actor, verb: str, data: Mapping[str, Any]
) -> Card:
    letter_id = _int(data, "letter")
    letter = await session.get(Letter, letter_id) if letter_id is not None else None
    decision = await session.get(Decision, letter.decision_id) if letter and letter.decision_id else None
    read = await incidents.for_card(session, decision.incident_id) if decision else None
    if read is None or letter is None or letter.kind == LetterKind.APPEAL_OUTCOME.value:
        # An appeal's outcome letter belongs to the body that heard it, not the service.
        await refusals.record(session, services, actor, verb, record_type="letter", record_id=letter_id)
        return cards.no_access_card()
    incident = read.incident
    view = await view_of(session, services, read, actor)
    if not view.can_decide:
        await refusals.record(session, services, actor, verb, record_type="letter", record_id=letter.id)
        return cards.no_access_card(incident.reference)
    now = services.clock()
    today = now.astimezone(services.zone).date()
    if verb == cards.LETTER_LINK:
        large = data.get("large") is True
        issued = await letter_links.issue_link(session, services, actor.person_id, letter.id, large=large)
        if issued is None:
            return cards.incident_card(view, notice=NO_LINKS)
        # The answer to a download carries one link to open: the letter's.
        return cards.with_download(
            cards.incident_card(replace(view, workspace_url=None)), issued.url, issued.large, issued.note
        )
    done = letter.sent_on is not None or letter.not_appropriate_reason is not None
    if done:
        return cards.incident_card(
            view, notice="The letter's outcome is already recorded. Nothing was changed."
        )
    if verb == cards.LETTER_SENT_FORM:
        return cards.letter_sent_form(view, letter.id, today.isoformat(), {})
    if verb == cards.LETTER_NOT_APPROPRIATE_FORM:
        return cards.letter_not_appropriate_form(view, letter.id, {})
    errors = await letter_links.record_fate(
        session, services, actor.person_id, letter, data, sent=verb == cards.LETTER_SENT
    )
    if errors and verb == cards.LETTER_SENT:
        return cards.letter_sent_form(view, letter.id, today.isoformat(), errors)
    if errors:
        return cards.letter_not_appropriate_form(view, letter.id, errors)
    await session.refresh(letter)
    views = await incident_views(session, services, read)
    await _update_sent_cards(session, views, now, version=f"letter-{letter.id}")
    await session.flush()
    result = views.card_for(actor.person_id, actor.roles)
    await session.commit()
    services.outbox_written()
    return result
