"""Short-lived signed links, so a manager's browser can fetch a letter without a Teams token.

A link names the letter, the person it was made for, the print size and when it stops working,
signed with HMAC-SHA256. The bot checks the signature, the expiry, and the person's right to the
letter in the register again when the link is opened.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class LetterLink:
    letter_id: int
    person_id: int
    large_print: bool
    expires: int  # seconds since the epoch


class LinkSigner:
    def __init__(self, secret: bytes, public_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the link signing key must be at least 16 bytes")
        self._secret = secret
        self._public_url = public_url.rstrip("/")

    def _signature(self, link: LetterLink) -> str:
        message = f"{link.letter_id}:{link.person_id}:{int(link.large_print)}:{link.expires}"
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def url(self, letter_id: int, person_id: int, *, large_print: bool, now: datetime) -> str:
        link = LetterLink(letter_id, person_id, large_print, int((now + LIFETIME).timestamp()))
        query = urlencode(
            {
                "p": person_id,
                "large": int(large_print),
                "expires": link.expires,
                "sig": self._signature(link),
            }
        )
        return f"{self._public_url}/letters/{letter_id}.docx?{query}"

    def verify(self, letter_id: str, query: dict[str, str], *, now: datetime) -> LetterLink | None:
        """The link, if it is genuine and still open; None for anything forged, altered or late."""
        try:
            link = LetterLink(int(letter_id), int(query["p"]), query["large"] == "1", int(query["expires"]))
        except (KeyError, ValueError):
            return None
        if not hmac.compare_digest(self._signature(link), query.get("sig", "")):
            return None
        if now.timestamp() > link.expires:
            return None
        return link
