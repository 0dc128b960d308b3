"""Who hears an appeal, fixed by who made the decision appealed against."""

from policy.decisions import AppealRoute, DecidingBody

ROUTE_LABELS: dict[AppealRoute, str] = {
    AppealRoute.COMPLAINTS_PROCEDURE: "the complaints handling procedure",
    AppealRoute.COMPLAINTS_REVIEW_GROUP: "the Complaints Review Group",
    AppealRoute.CHIEF_EXECUTIVE: "the Chief Executive",
}


class NotAppealable(ValueError):
    """The appeal process does not apply to action taken by elected members."""


def route_for(body: DecidingBody) -> AppealRoute:
    if body is DecidingBody.EMPLOYEE:
        return AppealRoute.COMPLAINTS_PROCEDURE
    if body is DecidingBody.MANAGER:
        return AppealRoute.COMPLAINTS_REVIEW_GROUP
    if body is DecidingBody.COMPLAINTS_REVIEW_GROUP:
        return AppealRoute.CHIEF_EXECUTIVE
    if body is DecidingBody.ELECTED_MEMBER:
        raise NotAppealable("The appeal process does not apply to action taken by elected members.")
    raise NotAppealable(
        "There is no further internal appeal against the Chief Executive's decision: the "
        "customer may take their complaint to the Scottish Public Services Ombudsman."
    )
