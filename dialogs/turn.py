"""What a dialog is given and what it gives back."""

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cards.elements import Card
from dialogs.links import LinkSigner
from letters.content import LetterSettings
from policy.chasing import ChaseRules
from policy.deciding import WARNING_WINDOW_MONTHS, ReviewRules
from policy.retention import RetentionRules
from policy.roles import Roles
from policy.working_days import in_working_hours

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RosterMember:
    """A member of a channel as Teams' roster names them."""

    teams_id: str
    aad_object_id: str | None
    addresses: frozenset[str]  # mail and UPN, folded; empty for a guest


# The members of a channel (by its id), or None when Teams cannot say: read in bot/ with the SDK.
ChannelRoster = Callable[[str], Awaitable[list[RosterMember] | None]]


@dataclass(frozen=True)
class Actor:
    """The person acting, with their roles as the register holds them right now."""

    person_id: int
    display_name: str | None
    roles: Roles
    channel_id: str | None = None  # the Teams channel they are speaking in, if any
    shared: bool = False  # others read this conversation (a channel or group chat)


@dataclass(frozen=True)
class Reply:
    text: str | None = None
    card: Card | None = None
    summary: str | None = None  # the notification preview Teams shows for a card


@dataclass(frozen=True)
class ShowStep:
    """Keep the dialog open, showing this card."""

    card: Card
    title: str


@dataclass(frozen=True)
class CloseDialog:
    """Close the dialog, with a message for the person when there is something to say."""

    message: str | None = None


DialogAnswer = ShowStep | CloseDialog


@dataclass
class Services:
    """The side effects a dialog may use, injected so tests can drive time and delivery."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    zone: ZoneInfo
    # Sessions for reads alone, which on SQLite read beside a writer instead of queueing for it.
    reads: async_sessionmaker[AsyncSession] | None = None
    # Called after a commit that queued notifications, so the sender need not wait its interval.
    outbox_written: Callable[[], None] = field(default=lambda: None)
    # Where staff can find support after an upsetting contact, in the council's own words.
    wellbeing_support: str = (
        "Talk to your line manager, who can arrange a debrief. The council's Employee Assistance "
        "Programme offers free, confidential support, day and night."
    )
    reviews: ReviewRules = field(default_factory=ReviewRules)
    letters: LetterSettings = field(default_factory=LetterSettings)
    links: LinkSigner | None = None
    holidays: Collection[date] = frozenset()  # the council's calendar: not working days
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    review_group_channel: str | None = None  # configured; a register keeper may set it from Teams
    retention: RetentionRules = field(default_factory=RetentionRules)
    appeal_outcome_working_days: int = 20  # the target for an appeal's outcome, then a reminder
    channel_roster: ChannelRoster | None = None  # unset: no channel can be shown to be private
    # When undecided incidents are chased: the managers again, then the register keepers.
    chase: ChaseRules = field(default_factory=ChaseRules)
    # A customer counts as warned where a recorded approach explained what may follow, this recently.
    warning_months: int = WARNING_WINDOW_MONTHS
    # A restriction with no review comes before the register keepers at least this often.
    oversight_months: int = 12
    # A page of the workspace tab ("incident/5") as a link a card can carry; unset: none.
    workspace_link: Callable[[str], str] | None = None

    def reading(self) -> AsyncSession:
        """A session that only reads."""
        return (self.reads or self.sessions)()

    def today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    def working_hours(self) -> bool:
        """Reminders go out now only if it is working hours in the council's time zone."""
        return in_working_hours(
            self.clock().astimezone(self.zone), self.holidays, opens=self.opens, closes=self.closes
        )
