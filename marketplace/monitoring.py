"""Dynamic monitoring (动态监测): the test behind each `MonitoringRule.code`. Thresholds come
from the rule's `params`, so civil affairs tunes them as data. Each evaluator yields the
households (and, where it is about one person, the member) that the rule flags today."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from marketplace.models import AssistanceStandard, Case, CaseMember, MonitoringRule
from marketplace.models.cases import Category


@dataclass(frozen=True)
class Hit:
    case_id: int
    detail: str
    member_id: int | None = None


def _on_file():
    return Case.objects.filter(status=Case.Status.ACTIVE)


def _years_ago(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def income_near_line(params: dict, today: date) -> Iterator[Hit]:
    """Households not in 低保 whose per-capita income is at or above the standard but below
    `factor` × the standard: one setback from the line."""
    factor = Decimal(str(params.get("factor", "1.2")))
    standards = AssistanceStandard.objects.filter(year=today.year).select_related("area")
    by_area = {s.area_id: s.dibao_monthly for s in standards}
    if not by_area:
        return
    district_level = [s for s in standards if s.area.level == "district"]
    fallback = district_level[0].dibao_monthly if district_level else None
    cases = (
        _on_file()
        .exclude(category=Category.DIBAO)
        .exclude(income_per_capita__isnull=True)
        .values_list("pk", "street_id", "income_per_capita")
    )
    for case_id, street_id, income in cases.iterator(chunk_size=2000):
        line = by_area.get(street_id, fallback)
        if line is not None and line <= income < line * factor:
            yield Hit(
                case_id,
                _("人均月收入%(income)s元，略高于低保标准%(line)s元")
                % {"income": income, "line": line},
            )


def medical_expense(params: dict, today: date) -> Iterator[Hit]:
    """Households whose self-paid medical costs over the last twelve months reach the
    threshold (支出型困难 risk)."""
    threshold = Decimal(str(params.get("threshold", "20000")))
    rows = _on_file().filter(medical_expense_year__gte=threshold)
    for case_id, amount in rows.values_list("pk", "medical_expense_year").iterator(chunk_size=2000):
        yield Hit(case_id, _("近12个月自付医疗费用%(amount)s元") % {"amount": amount})


def elderly_alone(params: dict, today: date) -> Iterator[Hit]:
    """Members marked as elderly living alone, at or above `min_age`."""
    born_before = _years_ago(today, int(params.get("min_age", 70)))
    rows = CaseMember.objects.filter(
        case__status=Case.Status.ACTIVE, elderly_alone=True, birth_date__lte=born_before
    )
    for case_id, member_id in rows.values_list("case_id", "pk").iterator(chunk_size=2000):
        yield Hit(case_id, _("家中有独居老人"), member_id)


def disability(params: dict, today: date) -> Iterator[Hit]:
    """Households with a disabled member (one warning per household)."""
    rows = CaseMember.objects.filter(case__status=Case.Status.ACTIVE, disability=True).order_by(
        "case_id", "pk"
    )
    seen = set()
    for case_id, member_id in rows.values_list("case_id", "pk").iterator(chunk_size=2000):
        if case_id not in seen:
            seen.add(case_id)
            yield Hit(case_id, _("家中有残疾人"), member_id)


def tekun_minor_near_adult(params: dict, today: date) -> Iterator[Hit]:
    """Minors in 特困 households who turn 18 within `months`: support runs to 18, so the
    household must be reassessed before then."""
    months = int(params.get("months", 6))
    # Born between 18 years ago (already adult: excluded) and 18 years minus `months` ago.
    adult_from = _years_ago(today, 18)
    horizon_year = today.year + (today.month - 1 + months) // 12
    horizon_month = (today.month - 1 + months) % 12 + 1
    horizon = date(horizon_year, horizon_month, min(today.day, 28))
    turns_adult_by = _years_ago(horizon, 18)
    rows = CaseMember.objects.filter(
        Q(case__status=Case.Status.ACTIVE) & Q(case__category=Category.TEKUN),
        birth_date__gt=adult_from,
        birth_date__lte=turns_adult_by,
    )
    for case_id, member_id, born in rows.values_list("case_id", "pk", "birth_date"):
        yield Hit(
            case_id,
            _("特困家庭未成年人将于%(date)s年满18周岁，需重新评估")
            % {"date": born.replace(year=born.year + 18).isoformat()},
            member_id,
        )


EVALUATORS: dict[str, Callable[[dict, date], Iterator[Hit]]] = {
    MonitoringRule.Code.INCOME_NEAR_LINE: income_near_line,
    MonitoringRule.Code.MEDICAL_EXPENSE: medical_expense,
    MonitoringRule.Code.ELDERLY_ALONE: elderly_alone,
    MonitoringRule.Code.DISABILITY: disability,
    MonitoringRule.Code.TEKUN_MINOR_NEAR_ADULT: tekun_minor_near_adult,
}


def evaluate(*, rule: MonitoringRule, today: date) -> Iterator[Hit]:
    """The households one rule flags today."""
    yield from EVALUATORS[rule.code](rule.params or {}, today)
