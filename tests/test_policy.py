"""The policy's pure rules."""

import os
from pathlib import Path

import pytest

from policy.categories import CATEGORIES, Category, is_urgent
from policy.incidents import incident_reference
from policy.roles import Role, RoleGrant, Roles

POLICY_TEXT = Path(__file__).parents[2] / "shared" / "seeds" / "000_07a27960af176114.txt"

AMY = Roles.of([RoleGrant(Role.MANAGER, "housing")])
KIM = Roles.of([RoleGrant(Role.REGISTER_KEEPER)])
SAM = Roles.of([])


def test_every_category_and_behaviour_title_is_the_policys_own():
    if not POLICY_TEXT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the policy seed must be beside the checkout in CI: {POLICY_TEXT}")
        pytest.skip("the policy seed is not beside this checkout")
    policy = " ".join(POLICY_TEXT.read_text().replace("**", "").split()).lower()
    for text in CATEGORIES.values():
        assert text.title.lower() in policy
        for behaviour in text.behaviours:
            assert behaviour.title.lower() in policy, behaviour.title


def test_only_category_one_is_urgent():
    assert [c for c in Category if is_urgent(c)] == [Category.ONE]


def test_references_are_zero_padded_by_year():
    assert incident_reference(2026, 42) == "INC-2026-00042"


def test_retention_periods_by_what_happened():
    from datetime import date

    from policy.retention import RetentionRules

    rules = RetentionRules()
    assert rules.years_for("two", ["demanding_responses"]) == 2
    assert rules.years_for("one", ["abusive_language"]) == 2
    assert rules.years_for("one", ["abusive_language", "violent_aggressive_threatening"]) == 3
    assert rules.years_for("one", ["violent_aggressive_threatening"], ["physical_violence"]) == 5
    assert rules.years_for("two", ["demanding_responses"], ["weapon_or_animal"]) == 10
    assert rules.due_on(date(2024, 2, 29), "two", []) == date(2026, 2, 28)
    changed = RetentionRules.parse("harassment=4, weapon_or_animal=12")
    assert changed.years_for("one", ["harassment"]) == 4
    assert changed.years_for("one", [], ["weapon_or_animal"]) == 12
    with pytest.raises(ValueError):
        RetentionRules.parse("weapons=ten")
