"""The card check itself: every card the suite sees is parsed and validated by Microsoft's
Adaptive Cards library (tests/conftest.py), with Teams' six primary actions."""

import os

import pytest

from cards.elements import card, choice_set, submit
from tests.support import card_check


@pytest.fixture
def validator(card_validator: card_check.Validator | None) -> card_check.Validator:
    problem = card_check.missing()
    if card_validator is None or problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must check every card: {problem}")
        pytest.skip(str(problem))
    return card_validator


def _actions(count: int) -> list[dict]:
    return [submit(f"Button {n}", {"n": n}) for n in range(count)]


def test_six_actions_pass_as_teams_shows_them(validator):
    assert validator.check([("six", card([], _actions(6)))]) == []


def test_a_seventh_action_is_refused(validator):
    (problem,) = validator.check([("seven", card([], _actions(7)))])
    assert problem.startswith("seven: '(no text)': ") and "Maximum number of actions" in problem


def test_an_empty_choice_value_is_refused_naming_the_card_and_the_input(validator):
    bad = card([choice_set("who", "Who", [("", "I will"), ("7", "Hal")])])
    (problem,) = validator.check([("the form", bad)])
    assert 'Input.ChoiceSet "who"' in problem and "title and value" in problem


def test_an_unknown_element_is_refused(validator):
    (problem,) = validator.check([("odd", card([{"type": "TextBlok", "text": "hi"}]))])
    assert "Unknown element type" in problem
