"""The register's tables.

Enumerated values are stored as short strings and checked against `policy` enums at the edges
(repositories and dialogs), so that a new value in the policy needs no table rebuild on SQLite.
"""

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# --- people and roles -------------------------------------------------------------------------


class ServiceArea(Base):
    __tablename__ = "service_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Person(Base):
    """A member of staff or an elected member, as Teams and the roles file know them."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    # The sign-in name, which may differ from the mail: the roles file may name either.
    upn: Mapped[str | None] = mapped_column(String(320), unique=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    teams_user_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    # Teams says a guest (another organisation's account): no role comes from a mail or UPN.
    guest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("person_id", "role", "service_area_id"),
        # An area's managers and the keepers are found by role (every Send and card action asks).
        Index("ix_role_assignments_role_area", "role", "service_area_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(40))
    service_area_id: Mapped[int | None] = mapped_column(ForeignKey("service_areas.id", ondelete="CASCADE"))


# --- customers and incidents --------------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The workspace's register finds a customer by an exact email or postcode.
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(16), index=True)
    support_needs: Mapped[str | None] = mapped_column(Text)
    advocate: Mapped[str | None] = mapped_column(Text)
    # How they want letters (`policy.decisions.LetterFormat`; none: standard print), what other
    # format, and a language other than English: each letter is made or arranged so.
    letter_format: Mapped[str | None] = mapped_column(String(20))
    letter_format_detail: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    anonymised_at: Mapped[datetime | None]
    # Reported before they could be identified (an unknown caller, a social media account): the
    # name holds what is known until a register keeper matches the incident to a customer record.
    unidentified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    matched_to_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("year", "sequence"),
        Index("ix_incidents_status_reported_at", "status", "reported_at"),
        # The chase reads only the undecided incidents due to be chased.
        Index("ix_incidents_status_next_chase_at", "status", "next_chase_at"),
        # The workspace lists the register newest first, and each person's own reports.
        Index("ix_incidents_occurred_at", "occurred_at"),
        Index("ix_incidents_reporter_id_reported_at", "reporter_id", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    # Teams retries invokes: the same submission must store one incident.
    submission_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    service_area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"))
    occurred_at: Mapped[datetime]
    reported_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(10))
    behaviours: Mapped[list[Any]]
    description: Mapped[str] = mapped_column(Text)
    impact_on_staff: Mapped[str | None] = mapped_column(Text)
    impact_on_service: Mapped[str | None] = mapped_column(Text)
    others_affected: Mapped[list[Any]]
    ended_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    left_premises: Mapped[bool] = mapped_column(Boolean, default=False)
    police_called: Mapped[bool] = mapped_column(Boolean, default=False)
    police_reference: Mapped[str | None] = mapped_column(String(64))
    # What happened, as retention periods distinguish it: violence, weapons, dangerous animals.
    physical_violence: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    weapon_or_animal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reporter_wants_support: Mapped[bool] = mapped_column(Boolean, default=False)
    # The capacity the reporter acted in, as they held it then: an elected member's immediate
    # action is not appealable, whatever roles they hold later.
    reported_as: Mapped[str] = mapped_column(String(40), default="employee", server_default="employee")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    # The policy's lists are not exhaustive: a behaviour not listed, in the reporter's words.
    other_behaviour: Mapped[str | None] = mapped_column(Text)
    # Someone acting for the customer who behaved so (their role, e.g. "advocate", "son").
    representative: Mapped[str | None] = mapped_column(Text)
    # While undecided: the last chase sent (managers, keepers) and when to look again.
    chase_stage: Mapped[str | None] = mapped_column(String(20))
    next_chase_at: Mapped[datetime | None]
    # A manager a register keeper named to decide, where no manager of the service could.
    named_decider_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    named_decider_reason: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    reporter: Mapped[Person] = relationship(foreign_keys=[reporter_id])
    service_area: Mapped[ServiceArea] = relationship()


class IncidentNote(Base):
    """Information added after the report (`add to INC-...`)."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    added_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)


# --- decisions and what follows -----------------------------------------------------------------


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    deciding_body: Mapped[str] = mapped_column(String(40))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime]
    reasons: Mapped[str] = mapped_column(Text)  # internal: the register's, never the letter's
    customer_explanation: Mapped[str | None] = mapped_column(Text)  # what the letter tells the customer
    # A police or legal decision: "police", "legal" or "both", so its letter says which.
    action_taken: Mapped[str | None] = mapped_column(String(20))
    restorative_tried: Mapped[bool | None] = mapped_column(Boolean)
    restorative_not_possible_reason: Mapped[str | None] = mapped_column(Text)
    without_prior_warning: Mapped[bool] = mapped_column(Boolean, default=False)
    without_prior_warning_reason: Mapped[str | None] = mapped_column(Text)
    needs_considered: Mapped[bool | None] = mapped_column(Boolean)
    needs_considered_note: Mapped[str | None] = mapped_column(Text)
    reasonable_adjustments: Mapped[str | None] = mapped_column(Text)
    signposting: Mapped[str | None] = mapped_column(Text)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_reminded_at: Mapped[datetime | None]
    police_reference: Mapped[str | None] = mapped_column(String(64))


class RestorativeStepTaken(Base):
    __tablename__ = "restorative_steps"
    __table_args__ = (UniqueConstraint("decision_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime]
    # When the step was taken and by whom, where it was taken before this decision (outside the
    # bot); a restorative approach decided here was taken on its decision's date by its decider.
    taken_on: Mapped[date | None] = mapped_column(Date)
    taken_by: Mapped[str | None] = mapped_column(String(200))


class Restriction(Base):
    __tablename__ = "restrictions"
    # The sweeps read only what is due: by the next reminder's date, and by the end date.
    __table_args__ = (
        Index("ix_restrictions_status_next_reminder_on", "status", "next_reminder_on"),
        Index("ix_restrictions_status_ends_on", "status", "ends_on"),
        Index("ix_restrictions_status_oversight_due_on", "status", "oversight_due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    service_area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"))
    type: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(20))
    frontline_instructions: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    review_due_on: Mapped[date | None] = mapped_column(Date)
    no_review_reason: Mapped[str | None] = mapped_column(Text)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(20))
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(Text)
    # A variation or reinstatement points at the restriction it replaces.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("restrictions.id"), unique=True)
    # When the review sweep should next look at it, and the last reminder stage sent.
    next_reminder_on: Mapped[date | None] = mapped_column(Date)
    reminder_stage: Mapped[str | None] = mapped_column(String(20))
    # A restriction with no review comes before the register keepers by this date, at least yearly.
    oversight_due_on: Mapped[date | None] = mapped_column(Date)
    overseen_at: Mapped[datetime | None]
    overseen_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    restriction_id: Mapped[int] = mapped_column(ForeignKey("restrictions.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    done_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text)
    customer_explanation: Mapped[str | None] = mapped_column(Text)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    customer_notified: Mapped[bool | None] = mapped_column(Boolean)
    # The capacity the review was taken in: a variation or reinstatement is a new decision.
    deciding_body: Mapped[str] = mapped_column(String(40), default="manager", server_default="manager")
    # A variation is a decision: the customer's support needs and adjustments were considered.
    needs_considered: Mapped[bool | None] = mapped_column(Boolean)
    needs_considered_note: Mapped[str | None] = mapped_column(Text)


class Appeal(Base):
    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    # What is appealed (`policy.appeals.Appealable`) and which one: `step` names it as
    # "decision:<id>", "review:<id>", "appeal:<id>" or "immediate_action:<incident id>".
    against: Mapped[str] = mapped_column(String(30))
    step: Mapped[str | None] = mapped_column(String(60), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"))
    previous_appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    # None where the appeal goes no further here (`not_heard` says why).
    route: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[int | None] = mapped_column(Integer)  # of the complaints handling procedure
    not_heard: Mapped[str | None] = mapped_column(String(30))
    received_on: Mapped[date] = mapped_column(Date)
    grounds: Mapped[str] = mapped_column(Text)
    # The last day to receive it in time, as the decision's letter gave it; and the outcome's due day.
    time_limit_on: Mapped[date | None] = mapped_column(Date)
    respond_by: Mapped[date | None] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    logged_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))  # open, decided, not_heard
    # Set while the appeal is open, cleared by its outcome: one open appeal per decision appealed.
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_reasons: Mapped[str | None] = mapped_column(Text)
    outcome_explanation: Mapped[str | None] = mapped_column(Text)  # for the customer's letter
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    outcome_at: Mapped[datetime | None]
    # When the hearing body was reminded that no outcome is recorded within the target.
    reminded_at: Mapped[datetime | None]


class AppealedRestriction(Base):
    __tablename__ = "appealed_restrictions"

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), primary_key=True)
    restriction_id: Mapped[int] = mapped_column(ForeignKey("restrictions.id"), primary_key=True)


class Letter(Base):
    """A letter to the customer, or the documented reason none could explain the decision."""

    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"))
    # For a variation, lifting or reinstatement: the restriction the letter is about.
    restriction_id: Mapped[int | None] = mapped_column(ForeignKey("restrictions.id"))
    produced_at: Mapped[datetime]
    produced_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # The date printed on the latest copy downloaded before it was sent: until the sending is
    # recorded, the time to appeal runs from it, as that copy says.
    dated_on: Mapped[date | None] = mapped_column(Date)
    sent_on: Mapped[date | None] = mapped_column(Date)
    method: Mapped[str | None] = mapped_column(String(30))
    not_appropriate_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[datetime | None]
    # When the decider was reminded that neither "sent" nor "not appropriate" was recorded.
    reminded_at: Mapped[datetime | None]


# --- audit, conversations, outbox ---------------------------------------------------------------


class AuditEvent(Base):
    """Append-only: who did what, when, to which record. Never holds the personal data itself."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_record", "record_type", "record_id"),
        # The monthly access report reads one month's views of records, not years of events.
        Index("ix_audit_events_action_at", "action", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(60))
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's newest link: one row, whose lock orders every writer of the audit trail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class ConversationRef(Base):
    """Where the bot can reach a person (their 1:1 chat) or a channel, proactively."""

    __tablename__ = "conversation_refs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # personal, channel
    conversation_id: Mapped[str] = mapped_column(String(400), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(400), index=True)
    team_id: Mapped[str | None] = mapped_column(String(400))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    service_url: Mapped[str] = mapped_column(String(400))
    bot_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class OutboxMessage(Base):
    """A notification written in the transaction that causes it, delivered later, once."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # Every decision, appeal and retention run finds the messages sent about one record; the
        # outbox keeps every message it ever sent, so without this each did a scan of them all.
        Index("ix_outbox_record", "record_type", "record_id"),
        # The claim picks each recipient's next message from the pending rows, by recipient and
        # priority (`storage.outbox._next_in_line`): read from this index alone, without the rows.
        Index("ix_outbox_in_line", "status", "person_id", "channel_id", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(400))
    purpose: Mapped[str] = mapped_column(String(60))
    record_type: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(40))
    activity: Mapped[dict[str, Any]]
    # "send" posts a new message; "update" replaces the message an earlier row sent.
    operation: Mapped[str] = mapped_column(String(10), default="send", server_default="send")
    updates_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    status: Mapped[str] = mapped_column(String(20))  # pending, sent, failed
    # 1 (urgent) goes before the recipient's 0 (normal) messages; an update or a reply keeps its
    # root's, so it is never sent before the message it follows.
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # How many notifications this one message carries: a run of notes on one incident is merged
    # into the message still waiting for them rather than queued one by one.
    gathered: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    sent_activity_id: Mapped[str | None] = mapped_column(String(200))
    sent_conversation_id: Mapped[str | None] = mapped_column(String(400))


# --- reporting ------------------------------------------------------------------------------------


class ReferenceCounter(Base):
    """The last incident number issued each year: one locked row makes references unique."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class ReportDraft(Base):
    """A report dialog in progress: what was entered so far, kept 24 hours, never in the register.

    The token is what the dialog's card carries; the owner is checked on every step.
    """

    __tablename__ = "report_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    values: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class CouncilSetting(Base):
    """Settings the council changes from Teams, such as the Complaints Review Group's channel."""

    __tablename__ = "council_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(400))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    changed_at: Mapped[datetime]
