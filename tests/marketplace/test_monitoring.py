"""Dynamic monitoring (动态监测): each rule flags the households it should and no others, its
thresholds are data, warnings are not repeated while open, and the community verifies them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from marketplace import tasks
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import MonitoringRule, Role, Warning
from marketplace.services import (
    MemberInput,
    case_register,
    case_report_discovery,
    monitoring_scan,
    warning_verify,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _years_ago(years, *, days=0):
    try:
        born = TODAY.replace(year=TODAY.year - years)
    except ValueError:
        born = TODAY.replace(year=TODAY.year - years, day=28)
    return born + timedelta(days=days)


def _household(world, *people, community=None, by=None, **kwargs):
    """Register a household. `people`: (relationship, birth date, flags) triples."""
    people = people or (("head", date(1970, 1, 1), {}),)
    members = [
        MemberInput(
            name=f"成员{n}", id_number=f.resident_id(born), relationship=relationship, **flags
        )
        for n, (relationship, born, flags) in enumerate(people)
    ]
    return case_register(
        created_by=by or world.users[Role.COMMUNITY_WORKER],
        community=community or world.community,
        members=members,
        guardian_name="成员0",
        sensitive_consent_by="成员0",
        **kwargs,
    ).case


def _flagged(rule):
    return set(Warning.objects.filter(rule=rule).values_list("case_id", flat=True))


def _set(rule, **params):
    MonitoringRule.objects.filter(code=rule).update(params=params)


def test_income_just_above_the_line_is_flagged_not_well_above_or_below(world):
    # World standard: 800 yuan; default factor 1.2 → flagged from 800 up to (not incl.) 960.
    at_line = _household(world, income_per_capita=Decimal("800"))
    just_above = _household(world, income_per_capita=Decimal("959.99"))
    at_factor = _household(world, income_per_capita=Decimal("960"))
    well_above = _household(world, income_per_capita=Decimal("1500"))
    dibao = _household(world, income_per_capita=Decimal("500"))
    no_income = _household(world, category="tekun")
    monitoring_scan()
    assert _flagged("income_near_line") == {at_line.pk, just_above.pk}
    warning = Warning.objects.get(rule="income_near_line", case=just_above)
    assert "959.99" in warning.detail and "800" in warning.detail
    assert {at_factor.pk, well_above.pk, dibao.pk, no_income.pk}.isdisjoint(
        _flagged("income_near_line")
    )


def test_income_rule_factor_is_data(world):
    well_above = _household(world, income_per_capita=Decimal("1500"))
    _set("income_near_line", factor="2")
    monitoring_scan()
    assert _flagged("income_near_line") == {well_above.pk}


def test_income_rule_without_a_standard_for_the_year_flags_nothing(world):
    _household(world, income_per_capita=Decimal("850"))
    world.standard.delete()
    monitoring_scan()
    assert _flagged("income_near_line") == set()


def test_medical_expense_threshold_comes_from_the_rule(world):
    high = _household(world, medical_expense_year=Decimal("25000"))
    at = _household(world, medical_expense_year=Decimal("20000"))
    below = _household(world, medical_expense_year=Decimal("19999.99"))
    middle = _household(world, medical_expense_year=Decimal("12000"))
    monitoring_scan()
    assert _flagged("medical_expense") == {high.pk, at.pk}
    Warning.objects.all().delete()
    _set("medical_expense", threshold="10000")
    monitoring_scan()
    assert _flagged("medical_expense") == {high.pk, at.pk, below.pk, middle.pk}


def test_elderly_alone_from_min_age(world):
    alone_75 = _household(world, ("head", _years_ago(75), {"elderly_alone": True}))
    alone_65 = _household(world, ("head", _years_ago(65), {"elderly_alone": True}))
    not_alone_80 = _household(world, ("head", _years_ago(80), {}))
    exactly_70 = _household(world, ("head", _years_ago(70), {"elderly_alone": True}))
    almost_70 = _household(world, ("head", _years_ago(70, days=1), {"elderly_alone": True}))
    monitoring_scan()
    assert _flagged("elderly_alone") == {alone_75.pk, exactly_70.pk}
    warning = Warning.objects.get(rule="elderly_alone", case=alone_75)
    assert warning.member == alone_75.members.get()
    Warning.objects.all().delete()
    _set("elderly_alone", min_age=60)
    monitoring_scan()
    assert _flagged("elderly_alone") == {alone_75.pk, alone_65.pk, exactly_70.pk, almost_70.pk}
    assert not_alone_80.pk not in _flagged("elderly_alone")


def test_disability_is_one_warning_per_household(world):
    two = _household(
        world,
        ("head", date(1960, 1, 1), {"disability": True}),
        ("spouse", date(1962, 1, 1), {"disability": True}),
    )
    none = _household(world, ("head", date(1960, 1, 1), {"serious_illness": True}))
    monitoring_scan()
    assert _flagged("disability") == {two.pk}
    assert Warning.objects.filter(rule="disability", case=two).count() == 1
    assert Warning.objects.get(rule="disability").member == two.members.order_by("pk").first()
    assert none.pk not in _flagged("disability")


def _tekun_with_minor(world, born, *, category="tekun", **kwargs):
    return _household(
        world,
        ("head", date(1950, 1, 1), {}),
        ("grandchild", born, {}),
        category=category,
        **kwargs,
    )


def test_tekun_minor_turning_18_soon(world):
    in_three_months = _tekun_with_minor(world, _years_ago(18, days=90))
    in_two_years = _tekun_with_minor(world, _years_ago(18, days=730))
    already_18 = _tekun_with_minor(world, _years_ago(18))
    dibao_minor = _tekun_with_minor(
        world, _years_ago(18, days=90), category="dibao", income_per_capita=Decimal("300")
    )
    monitoring_scan()
    assert _flagged("tekun_minor_near_adult") == {in_three_months.pk}
    warning = Warning.objects.get(rule="tekun_minor_near_adult")
    assert warning.member.relationship == "grandchild"
    assert _years_ago(18, days=90).replace(year=_years_ago(18, days=90).year + 18).isoformat() in (
        warning.detail
    )
    Warning.objects.all().delete()
    _set("tekun_minor_near_adult", months=30)
    monitoring_scan()
    assert _flagged("tekun_minor_near_adult") == {in_three_months.pk, in_two_years.pk}
    assert {already_18.pk, dibao_minor.pk}.isdisjoint(_flagged("tekun_minor_near_adult"))


def test_only_households_on_file_are_scanned(world):
    case_report_discovery(
        reported_by=world.users[Role.COMMUNITY_WORKER],
        community=world.community,
        head_name="候选",
        id_number=f.resident_id(_years_ago(80)),
        situation="走访发现",
    )
    monitoring_scan()
    assert not Warning.objects.exists()


def test_a_second_scan_writes_nothing_while_a_warning_is_open(world):
    case = _household(world, ("head", date(1960, 1, 1), {"disability": True}))
    assert monitoring_scan() == 1
    assert monitoring_scan() == 0
    assert Warning.objects.filter(case=case).count() == 1


def test_after_verification_a_new_scan_may_flag_again(world):
    case = _household(world, ("head", date(1960, 1, 1), {"disability": True}))
    monitoring_scan()
    warning = Warning.objects.get()
    warning_verify(
        warning=warning, by=world.users[Role.COMMUNITY_WORKER], confirmed=False, note="已入户"
    )
    assert monitoring_scan() == 1
    statuses = sorted(Warning.objects.filter(case=case).values_list("status", flat=True))
    assert statuses == ["dismissed", "open"]


def test_an_inactive_rule_writes_nothing(world):
    _household(world, ("head", date(1960, 1, 1), {"disability": True}))
    MonitoringRule.objects.filter(code="disability").update(active=False)
    assert monitoring_scan() == 0
    assert not Warning.objects.exists()


def test_the_daily_task_runs_the_scan(world):
    _household(world, ("head", date(1960, 1, 1), {"disability": True}))
    assert tasks.monitoring_scan.delay().get() == 1
    assert tasks.monitoring_scan.delay().get() == 0


def test_warning_verify_records_who_when_and_what(world):
    _household(world, ("head", date(1960, 1, 1), {"disability": True}))
    monitoring_scan()
    warning = Warning.objects.get()
    worker = world.users[Role.COMMUNITY_WORKER]
    with pytest.raises(ValidationError) as exc:
        warning_verify(warning=warning, by=worker, confirmed=True, note="  ")
    assert "note" in exc.value.message_dict
    warning.refresh_from_db()
    assert warning.status == "open" and warning.verified_by is None
    moment = timezone.now().replace(microsecond=0) + timedelta(days=1)
    with time_machine.travel(moment, tick=False):
        verified = warning_verify(
            warning=warning, by=worker, confirmed=True, note="入户核实，已申请残疾人两项补贴"
        )
    assert verified.status == "confirmed"
    assert verified.verified_by == worker and verified.verified_at == moment
    assert verified.note == "入户核实，已申请残疾人两项补贴"
    with pytest.raises(InvalidState):
        warning_verify(warning=warning, by=worker, confirmed=False, note="再次核实")


@pytest.mark.parametrize("who", ["community_worker2", "street_official2", "auditor", "volunteer"])
def test_warning_verify_refused_outside_the_community(world, who):
    actor = {
        "community_worker2": world.community_worker2,
        "street_official2": world.street_official2,
        "auditor": world.users[Role.AUDITOR],
        "volunteer": world.users[Role.VOLUNTEER],
    }[who]
    _household(world, ("head", date(1960, 1, 1), {"disability": True}))
    monitoring_scan()
    warning = Warning.objects.get()
    with pytest.raises(NotPermitted):
        warning_verify(warning=warning, by=actor, confirmed=True, note="看过了")
    warning.refresh_from_db()
    assert warning.status == "open" and warning.verified_by is None and warning.note == ""
