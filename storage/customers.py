"""Customers in the register, and finding one from what a member of staff remembers."""

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from rapidfuzz.fuzz import ratio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer

MIN_SCORE = 0.72
MAX_QUERY = 200  # characters
MAX_WORDS = 6  # a name and one detail: more is not a search
MAX_SHOWN = 5  # more matches than this is browsing, not finding someone: nobody is listed
MIN_NAME_LETTERS = 3  # a whole word of a name, not a fragment such as "no"


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    reference: str | None
    postcode: str | None
    email: str | None
    phone: str | None = None


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    score: float


@dataclass(frozen=True)
class Lookup:
    """What someone typed to find a customer: the words of a name, and one detail (a reference,
    postcode, email or phone: the words with a digit or an @)."""

    name: str
    detail: str

    @property
    def has_name(self) -> bool:
        return any(sum(ch.isalpha() for ch in word) >= MIN_NAME_LETTERS for word in self.name.split())


class Refused(Enum):
    """Why a search lists nobody without looking."""

    NO_NAME = "no_name"
    NO_DETAIL = "no_detail"
    TOO_MANY = "too_many"


@dataclass(frozen=True)
class Found:
    matches: list[Match]
    refused: Refused | None = None


def parse(query: str) -> Lookup:
    words = query[:MAX_QUERY].split()[:MAX_WORDS]
    detail = [w for w in words if re.search(r"[\d@]", w)]
    return Lookup(" ".join(w for w in words if w not in detail), "".join(detail))


def _fold(value: str) -> str:
    return re.sub(r"[^a-z0-9@.]", "", value.lower())


def _phone(value: str) -> str:
    """Digits only, a UK number written +44 as the 0 it is usually given with."""
    digits = re.sub(r"\D", "", value)
    return "0" + digits[2:] if value.strip().startswith("+44") else digits


def _similar(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if len(a) >= 3 and (b.startswith(a) or a in b):
        return 0.9
    return ratio(a, b) / 100  # difflib's ratio, computed in C: a register has thousands to score


def _name_score(query: str, name: str) -> float:
    """Whole name, or each word typed against the best word of the name (tolerant of typos)."""
    words = [w for w in re.split(r"\s+", query.lower()) if w]
    parts = [p for p in re.split(r"[\s'-]+", name.lower()) if p]
    whole = _similar(_fold(query), _fold(name))
    if not words or not parts:
        return whole
    per_word = sum(max(_similar(w, p) for p in parts) for w in words) / len(words)
    return max(whole, per_word)


def same_detail(detail: str, candidate: Candidate) -> bool:
    """The detail agrees exactly with one the register holds, whatever the spacing and case."""
    folded = _fold(detail)
    if not folded:
        return False
    if any(v and _fold(v) == folded for v in (candidate.reference, candidate.postcode, candidate.email)):
        return True
    phone = _phone(detail)
    return len(phone) >= 6 and bool(candidate.phone) and _phone(candidate.phone or "") == phone


def same_reference(detail: str, candidate: Candidate) -> bool:
    return bool(detail) and bool(candidate.reference) and _fold(candidate.reference or "") == _fold(detail)


def rank(query: str, candidates: Iterable[Candidate], *, reference_alone: bool = False) -> Found:
    """The customers whose name and one detail both agree with `query`, best name first.

    A name alone or a detail alone lists nobody (a fragment such as "nor" or "TD6" would list
    half the register); `reference_alone` lets an exact customer reference stand by itself.
    More than `MAX_SHOWN` matches lists nobody either: the person is asked for more.
    """
    lookup = parse(query)
    candidates = list(candidates)
    by_reference = (
        [Match(c, 1.0) for c in candidates if same_reference(lookup.detail, c)]
        if reference_alone and not lookup.name
        else []
    )
    if by_reference:
        matches = by_reference
    elif not lookup.has_name:
        return Found([], Refused.NO_NAME)
    elif not lookup.detail:
        return Found([], Refused.NO_DETAIL)
    else:
        matches = [
            Match(c, s)
            for c in candidates
            if same_detail(lookup.detail, c) and (s := _name_score(lookup.name, c.name)) >= MIN_SCORE
        ]
    if len(matches) > MAX_SHOWN:
        return Found([], Refused.TOO_MANY)
    matches.sort(key=lambda m: (-m.score, m.candidate.name.lower(), m.candidate.id))
    return Found(matches)


async def candidates(session: AsyncSession) -> list[Candidate]:
    """The identifying fields of every customer still identifiable (anonymised ones are not)."""
    rows = await session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.customer_reference,
            Customer.postcode,
            Customer.email,
            Customer.phone,
        ).where(Customer.anonymised_at.is_(None))
    )
    return [Candidate(*row) for row in rows.all()]


async def search(session: AsyncSession, query: str, *, reference_alone: bool = False) -> Found:
    # Scoring thousands of customers is CPU work: off the event loop, so other turns go on.
    return await asyncio.to_thread(rank, query, await candidates(session), reference_alone=reference_alone)


def hint(reference: str | None, postcode: str | None) -> str:
    """What tells two customers of the same name apart without giving their details away: the
    last three characters of the reference and the postcode's district, never the address."""
    parts = []
    if reference:
        parts.append(f"reference ends {reference[-3:]}")
    if postcode and (district := _district(postcode)):
        parts.append(f"postcode {district} •••")
    return " · ".join(parts)


def _district(postcode: str) -> str:
    """The outward code (TD6 of TD6 0SA): the inward code is always its last three characters."""
    folded = re.sub(r"\s", "", postcode.upper())
    return folded[:-3] if len(folded) > 4 else ""


def label(name: str, reference: str | None, postcode: str | None) -> str:
    return " · ".join(p for p in (name, hint(reference, postcode)) if p)


async def get_identifiable(session: AsyncSession, customer_id: int) -> Customer | None:
    customer = await session.get(Customer, customer_id)
    return customer if customer is not None and customer.anonymised_at is None else None


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Customer]:
    if not ids:
        return []
    found = {c.id: c for c in (await session.scalars(select(Customer).where(Customer.id.in_(ids)))).all()}
    return [found[i] for i in ids if i in found and found[i].anonymised_at is None]


@dataclass(frozen=True)
class NewCustomer:
    name: str
    reference: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postcode: str | None = None
    support_needs: str | None = None
    advocate: str | None = None
    unidentified: bool = False  # reported with what is known; matched to a record later


_INSERT = insert(Customer.__table__).returning(Customer.__table__.c.id)


async def add(session: AsyncSession, new: NewCustomer, *, now: datetime) -> Customer:
    """Add a customer with a Core INSERT; the customer returned is not in the session."""
    values = dict(
        name=new.name,
        customer_reference=new.reference,
        email=new.email.lower() if new.email else None,
        phone=new.phone,
        address=new.address,
        postcode=new.postcode.upper() if new.postcode else None,
        support_needs=new.support_needs,
        advocate=new.advocate,
        created_at=now,
        anonymised_at=None,
        unidentified=new.unidentified,
        matched_to_id=None,
    )
    customer_id = (await session.execute(_INSERT, values)).scalar_one()
    return Customer(id=customer_id, **values)
