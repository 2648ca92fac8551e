"""Filters for lists, each shared by its HTML page and its API endpoint."""

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.models import (
    Area,
    Case,
    MonitoringRule,
    Need,
    Organisation,
    Referral,
    ServiceType,
    Warning,
)
from marketplace.models.cases import Category, Channel


class OrganisationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("关键词"), max_length=50)
    kind = django_filters.ChoiceFilter(choices=Organisation.Kind.choices, label=_("类型"))
    street = django_filters.ModelChoiceFilter(
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        label=_("街道/镇/开发区"),
        empty_label=_("全部街道"),
    )
    verified = django_filters.BooleanFilter(label=_("认证状态"))

    class Meta:
        model = Organisation
        fields = ["q", "kind", "street", "verified"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(address__icontains=value))


class _AreaFilters(django_filters.FilterSet):
    """Street and community filters shared by case and need lists."""

    street = django_filters.ModelChoiceFilter(
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        label=_("街道/镇/开发区"),
        empty_label=_("全部街道"),
    )
    community = django_filters.ModelChoiceFilter(
        queryset=Area.objects.filter(level=Area.Level.COMMUNITY).order_by("code"),
        label=_("社区/村"),
        empty_label=_("全部社区"),
    )


class CaseFilter(_AreaFilters):
    q = django_filters.CharFilter(method="filter_q", label=_("户主姓名"), max_length=32)
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("救助类别"))
    status = django_filters.ChoiceFilter(choices=Case.Status.choices, label=_("状态"))
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("受理渠道"))

    class Meta:
        model = Case
        fields = ["q", "street", "community", "category", "status", "channel"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(head_name__icontains=value) if value else queryset


class NeedFilter(_AreaFilters):
    category = django_filters.ChoiceFilter(
        field_name="case__category", choices=Category.choices, label=_("救助类别")
    )
    urgency = django_filters.ChoiceFilter(choices=Need.Urgency.choices, label=_("紧急程度"))
    status = django_filters.ChoiceFilter(choices=Need.Status.choices, label=_("状态"))
    kind = django_filters.ChoiceFilter(choices=Need.Kind.choices, label=_("需求类型"))
    service_type = django_filters.ModelChoiceFilter(
        queryset=ServiceType.objects.order_by("position"), label=_("服务类型")
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("急难超期"))

    class Meta:
        model = Need
        fields = ["street", "community", "category", "urgency", "status", "kind", "service_type"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(
            urgency=Need.Urgency.EMERGENCY,
            status__in=Need.AWAITING_RESPONSE,
            response_deadline__lt=timezone.now(),
        )
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class PublicNeedFilter(_AreaFilters):
    """What providers may filter open needs by: nothing that narrows to one household."""

    urgency = django_filters.ChoiceFilter(choices=Need.Urgency.choices, label=_("紧急程度"))
    kind = django_filters.ChoiceFilter(choices=Need.Kind.choices, label=_("需求类型"))
    service_type = django_filters.ModelChoiceFilter(
        queryset=ServiceType.objects.order_by("position"), label=_("服务类型")
    )

    class Meta:
        model = Need
        fields = ["street", "community", "urgency", "kind", "service_type"]


class ReferralFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Referral.Status.choices, label=_("状态"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("超期"))

    class Meta:
        model = Referral
        fields = ["status", "department"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(
            status__in=[Referral.Status.SENT, Referral.Status.ACCEPTED],
            due_at__lt=timezone.now(),
        )
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class WarningFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Warning.Status.choices, label=_("状态"))
    rule = django_filters.ChoiceFilter(choices=MonitoringRule.Code.choices, label=_("规则"))

    class Meta:
        model = Warning
        fields = ["status", "rule"]
