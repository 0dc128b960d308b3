"""Finding a customer, for the report form and `check`: what to ask for, and what is recorded.

A reporter needs the right customer, not a list to browse: a search needs a name and one more
detail that both agree (`storage.customers.rank`), shows a masked hint rather than the details,
and every search is a read of the register that the monthly access report lists.
"""

from storage import audit, customers
from storage.customers import Refused

ASK = {
    Refused.NO_NAME: (
        "Add the customer's name (at least one whole word) to the reference, postcode, email or "
        "phone: a detail on its own lists nobody"
    ),
    Refused.NO_DETAIL: (
        "Add one more detail to the name: their customer reference, postcode, email or phone. "
        "A name on its own lists nobody"
    ),
    Refused.TOO_MANY: (
        f"More than {customers.MAX_SHOWN} customers match: add more of the name, or their customer reference"
    ),
}


def label(candidate: customers.Candidate) -> str:
    return customers.label(candidate.name, candidate.reference, candidate.postcode)


def shown(actor_id: int, action: str, ids: list[int]) -> list[audit.Entry]:
    """One event per customer shown, naming who was shown with them; a search that showed
    nobody is one event with no customer. Ids only: never the words searched for."""
    if not ids:
        return [audit.Entry(actor_id, action, "customer", None, {"shown": []})]
    return [audit.Entry(actor_id, action, "customer", i, {"shown": ids}) for i in ids]
