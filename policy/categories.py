"""The four categories of engagement the policy manages, in the policy's own words."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    ONE = "one"
    TWO = "two"
    THREE = "three"
    FOUR = "four"


@dataclass(frozen=True)
class Behaviour:
    key: str
    title: str
    description: str


@dataclass(frozen=True)
class CategoryText:
    category: Category
    title: str
    description: str
    behaviours: tuple[Behaviour, ...]

    @property
    def label(self) -> str:
        return f"Category {self.category.value}: {self.title}"


ZERO_TOLERANCE_STATEMENT = (
    "We have ZERO tolerance for threats, violence, aggression, and abusive behaviour towards "
    "staff. In these situations, staff will always take action to respond or disengage. "
    "Sometimes, the only appropriate action is to end contact immediately."
)

CATEGORIES: dict[Category, CategoryText] = {
    Category.ONE: CategoryText(
        Category.ONE,
        "Violent, Aggressive, Threatening, or Abusive Behaviour",
        "We have ZERO tolerance for this type of behaviour towards our staff, Elected Members, "
        "or representatives acting on our behalf.",
        (
            Behaviour(
                "violent_aggressive_threatening",
                "Violent, Aggressive, or Threatening Behaviour",
                "Includes physical assault, threats, verbal and written abuse, harassment, "
                "inappropriate gestures or any behaviour likely to cause anxiety, stress, or fear.",
            ),
            Behaviour(
                "abusive_language",
                "Abusive Language",
                "Any language, verbal or written, that is offensive, insulting, degrading, "
                "discriminatory, or makes unfounded or slanderous allegations.",
            ),
            Behaviour(
                "harassment",
                "Harassment",
                "Repeatedly contacting staff, targeting them on social media, or making "
                "statements about recording interactions for public use.",
            ),
        ),
    ),
    Category.TWO: CategoryText(
        Category.TWO,
        "Demands on the Council",
        "Customer engagement becomes unacceptable when it starts to impact an employee's "
        "well-being, work or the service, taking up excessive time to the disadvantage of other "
        "customers or functions.",
        (
            Behaviour(
                "demanding_responses",
                "Demanding responses",
                "Demanding responses within unreasonable timescales.",
            ),
            Behaviour(
                "insisting_on_staff",
                "Insisting",
                "Insisting that certain staff provide or do not provide the service to them.",
            ),
            Behaviour(
                "moving_the_goal_posts",
                "Moving the goal posts",
                "Repeatedly changing complaints or raising unrelated concerns.",
            ),
        ),
    ),
    Category.THREE: CategoryText(
        Category.THREE,
        "Levels of Contact",
        "Excessive volume and duration of contact can cause problems. When the time spent "
        "communicating with a customer affects our ability to address that issue or other "
        "customers' issues, it can prevent us from helping others and cause distress for both "
        "the employee and other customers.",
        (
            Behaviour(
                "excessive_contact",
                "Excessive contact",
                "Making numerous calls or sending multiple emails in a short period or "
                "prolonging discussion.",
            ),
            Behaviour(
                "repeat_contact",
                "Repeat contact",
                "Repeatedly raising the same issues, even though responses have been given, "
                "without new information.",
            ),
            Behaviour(
                "inappropriate_use_of_complaints_procedure",
                "Inappropriate use of the complaints procedure",
                "When repeated complaints seem to be intended to harass us, prevent us "
                "addressing the complaint in good time or stop us from doing our job properly.",
            ),
            Behaviour(
                "scattergun_approach",
                "Scattergun approach",
                "Sending the same correspondence to multiple employees or organisations.",
            ),
        ),
    ),
    Category.FOUR: CategoryText(
        Category.FOUR,
        "Persistence",
        "Unreasonable persistence is continued, incessant and unrelenting engagement that "
        "negatively impacts our employees, elected members, and services.",
        (
            Behaviour(
                "refusing_to_accept",
                "Refusing to accept",
                "Refusing to accept reasonable explanations, decisions we have made or that we "
                "are unable to provide further levels of service.",
            ),
            Behaviour(
                "continues_to_disagree",
                "Continues to disagree",
                "Continues to disagree with the action or decision taken in relation to their "
                "complaint or issue.",
            ),
            Behaviour(
                "repeated_contact",
                "Repeated contact",
                "Continuing to pursue issues without new information.",
            ),
            Behaviour(
                "raising_with_different_employees",
                "Raising the same matters with different employees",
                "Raising the same matters with different employees in the hope they will make "
                "a different decision.",
            ),
            Behaviour(
                "campaigns",
                "Campaigns",
                "Organizing campaigns to disrupt Council work.",
            ),
            Behaviour(
                "social_media",
                "Social Media",
                "Repeatedly targeting employees or particular issues on social media when "
                "dissatisfied with council decisions or actions.",
            ),
        ),
    ),
}


# "This list is not exhaustive, and we can manage types of engagement or behaviour not listed":
# each category also offers another behaviour, described in the reporter's words.
OTHER_BEHAVIOUR = Behaviour("other", "Another behaviour", "Not in this list: describe it below.")


def behaviour_choices(category: Category) -> tuple[Behaviour, ...]:
    """The category's behaviours, then another behaviour (described)."""
    return (*CATEGORIES[category].behaviours, OTHER_BEHAVIOUR)


def behaviour_titles(category: Category, keys: Iterable[str], other: str | None) -> list[str]:
    """The behaviours chosen, in the list's order, with another behaviour in the reporter's words."""
    chosen = set(keys)
    titles = [b.title for b in CATEGORIES[category].behaviours if b.key in chosen]
    if OTHER_BEHAVIOUR.key in chosen:
        titles.append(f"{OTHER_BEHAVIOUR.title}: {other}" if other else OTHER_BEHAVIOUR.title)
    return titles


def is_urgent(category: Category) -> bool:
    """Category one is zero tolerance: its incidents reach managers marked urgent."""
    return category is Category.ONE
