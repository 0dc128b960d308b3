"""Customers in the register, and finding one from what a member of staff remembers."""

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz.fuzz import ratio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer

MIN_SCORE = 0.72
MAX_QUERY = 200  # characters
MAX_WORDS = 6  # a name, or a reference, postcode or email: more is not a search


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    reference: str | None
    postcode: str | None
    email: str | None


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    score: float


def _fold(value: str) -> str:
    return re.sub(r"[^a-z0-9@.]", "", value.lower())


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


def score(query: str, candidate: Candidate) -> float:
    folded = _fold(query)
    scores = [_name_score(query, candidate.name)]
    for exact_field in (candidate.reference, candidate.postcode, candidate.email):
        if exact_field:
            value = _fold(exact_field)
            # References, postcodes and emails match whole or from the start, not loosely.
            if value == folded:
                scores.append(1.0)
            elif len(folded) >= 3 and value.startswith(folded):
                scores.append(0.85)
            elif len(folded) >= 5:
                scores.append(0.9 * ratio(folded, value) / 100)
    return max(scores)


def rank(query: str, candidates: Iterable[Candidate], *, limit: int = 8) -> list[Match]:
    # Scoring costs grow with the query: bound it, whatever the caller checked.
    query = " ".join(query[:MAX_QUERY].split()[:MAX_WORDS])
    if len(_fold(query)) < 2:
        return []
    matches = [Match(c, s) for c in candidates if (s := score(query, c)) >= MIN_SCORE]
    matches.sort(key=lambda m: (-m.score, m.candidate.name.lower(), m.candidate.id))
    return matches[:limit]


async def candidates(session: AsyncSession) -> list[Candidate]:
    """The identifying fields of every customer still identifiable (anonymised ones are not)."""
    rows = await session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.customer_reference,
            Customer.postcode,
            Customer.email,
        ).where(Customer.anonymised_at.is_(None))
    )
    return [Candidate(*row) for row in rows.all()]


async def search(session: AsyncSession, query: str, *, limit: int = 8) -> list[Match]:
    # Scoring thousands of customers is CPU work: off the event loop, so other turns go on.
    return await asyncio.to_thread(rank, query, await candidates(session), limit=limit)


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
    )
    customer_id = (await session.execute(_INSERT, values)).scalar_one()
    return Customer(id=customer_id, **values)
