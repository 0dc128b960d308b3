"""A Teams account whose identity does not match the register's: refused, audited, keepers told.

The register ties a person's Teams id to their Entra object id once. An account that arrives
with a second Teams id for an object id, another object id for a Teams id, or a roster mail or
UPN of someone else's record is never re-bound: it is turned away with no roles, and the
register keepers decide whether it is a new account of the same person or someone else.
"""

import hashlib

from sqlalchemy import select

from cards.elements import card, facts, heading, text
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Services
from storage import audit, decisions, people
from storage.models import OutboxMessage

REFUSED = (
    "I cannot act for you: your Teams account does not match the one the register holds for you, "
    "so nothing was done. The register keepers have been told and will be in touch."
)
PURPOSE = "identity.refused"
REASONS = {
    people.SECOND_TEAMS_ID: "A second Teams account arrived with the Entra object id of this record.",
    people.OTHER_OBJECT_ID: "The Teams account of this record arrived with another Entra object id.",
    people.ADDRESS_OF_ANOTHER: (
        "Teams' roster gave a new account the mail or sign-in name of this record, which belongs "
        "to another account."
    ),
}


def _sender_key(teams_user_id: str, aad_object_id: str | None) -> str:
    """A short key for the account, for one notice a day: never shown."""
    return hashlib.sha256(f"{teams_user_id}|{aad_object_id}".encode()).hexdigest()[:16]


async def refuse(
    services: Services, conflict: people.IdentityConflict, *, teams_user_id: str, aad_object_id: str | None
) -> str:
    """Record the refusal and tell the register keepers (once a day per account); the words for
    the person turned away."""
    now = services.clock()
    day = now.astimezone(services.zone).date().isoformat()
    key = f"identity:{_sender_key(teams_user_id, aad_object_id)}:{conflict.reason}:{day}"
    async with services.sessions() as session:
        await audit.record(
            session,
            now=now,
            actor_id=None,
            action=PURPOSE,
            record_type="person",
            record_id=conflict.person_ids[0] if conflict.person_ids else None,
            # Ids only: the object id names the account in Entra; the records are the register's.
            detail={"reason": conflict.reason, "people": conflict.person_ids, "aad_object_id": aad_object_id},
        )
        told = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key.like(f"{key}:%")))
        if told is None:
            names = await decisions.names_of(session, conflict.person_ids)
            notice = card(
                [
                    heading("A Teams account was refused", size="Medium", color="Attention"),
                    facts(
                        [
                            ("Register record", ", ".join(names.values())),
                            ("Entra object id", aad_object_id or "not given"),
                            ("Why", REASONS[conflict.reason]),
                        ]
                    ),
                    text(
                        "Nothing was changed and the account was given no roles. Teams cannot re-tie a "
                        "record: if this is the same person's new account, the server's operator must; "
                        "otherwise treat it as someone trying to act as another.",
                        subtle=True,
                    ),
                ]
            )
            message = card_message(notice, summary="A Teams account was refused")
            await tell_keepers(
                session,
                message,
                purpose=PURPOSE,
                now=now,
                record_type="person",
                record_id=conflict.person_ids[0] if conflict.person_ids else None,
                dedupe=key,
            )
        await session.commit()
    if told is None:
        services.outbox_written()
    return REFUSED
