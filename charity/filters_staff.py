"""Filters of the staff lists of funds and disbursements."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from charity.models import Disbursement, Fund
from charity.selectors.funds import disbursement_awaiting, fund_list_for_user


class FundFilter(django_filters.FilterSet):
    """Funds by kind."""

    kind = django_filters.ChoiceFilter(
        label=_("基金类型"), choices=Fund.Kind.choices, empty_label=_("全部类型")
    )

    class Meta:
        model = Fund
        fields = ["kind"]


STATE_CHOICES = [
    ("emergency", _("急难先行拨付")),
    ("to_regularise", _("待补办审批")),
    ("overdue", _("补办逾期")),
]


class DisbursementFilter(django_filters.FilterSet):
    """Disbursements by status, fund, what waits for the user's decision, and the emergency
    payments still to be regularised or already overdue. Needs `request` for the user."""

    status = django_filters.ChoiceFilter(
        label=_("状态"), choices=Disbursement.Status.choices, empty_label=_("全部状态")
    )
    fund = django_filters.ModelChoiceFilter(
        label=_("基金"), queryset=Fund.objects.none(), empty_label=_("全部基金")
    )
    awaiting = django_filters.BooleanFilter(
        label=_("只看待我审批"), method="filter_awaiting", widget=forms.CheckboxInput
    )
    state = django_filters.ChoiceFilter(
        label=_("急难拨付"), choices=STATE_CHOICES, method="filter_state", empty_label=_("全部")
    )

    class Meta:
        model = Disbursement
        fields = ["status", "fund", "awaiting", "state"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readable = fund_list_for_user(user=self.request.user).values("pk")
        self.filters["fund"].queryset = Fund.objects.filter(pk__in=readable)

    def filter_awaiting(self, queryset, name, value):
        if not value:
            return queryset
        waiting = disbursement_awaiting(user=self.request.user).values("pk")
        return queryset.filter(pk__in=waiting)

    def filter_state(self, queryset, name, value):
        to_regularise = Q(
            emergency=True, status=Disbursement.Status.PAID, regularised_at__isnull=True
        )
        if value == "emergency":
            return queryset.filter(emergency=True)
        if value == "to_regularise":
            return queryset.filter(to_regularise)
        if value == "overdue":
            return queryset.filter(to_regularise).filter(
                Q(flagged_at__isnull=False) | Q(regularise_by__lt=timezone.now())
            )
        return queryset
