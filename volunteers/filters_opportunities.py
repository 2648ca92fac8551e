"""Filters of the opportunity list and of the organiser's service records."""

import django_filters
from django import forms
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, ServiceType
from volunteers.models import Opportunity, ServiceRecord, Skill


class OpportunityFilter(django_filters.FilterSet):
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
    skill = django_filters.ModelChoiceFilter(
        field_name="skills",
        queryset=Skill.objects.order_by("position", "code"),
        label=_("所需技能"),
        empty_label=_("全部技能"),
    )
    service_type = django_filters.ModelChoiceFilter(
        queryset=ServiceType.objects.order_by("position"),
        label=_("服务类型"),
        empty_label=_("全部类型"),
    )
    date_from = django_filters.DateFilter(
        field_name="starts_at",
        lookup_expr="date__gte",
        label=_("开始日期从"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        field_name="starts_at",
        lookup_expr="date__lte",
        label=_("开始日期至"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    has_slots = django_filters.BooleanFilter(method="filter_has_slots", label=_("仍有名额"))

    class Meta:
        model = Opportunity
        fields = ["street", "community", "skill", "service_type", "date_from", "date_to"]

    def filter_has_slots(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(confirmed_count__lt=F("slots"))
        return queryset.filter(confirmed_count__gte=F("slots"))


class ServiceRecordFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=ServiceRecord.Status.choices, label=_("状态"), empty_label=_("全部状态")
    )
    flagged = django_filters.BooleanFilter(method="filter_flagged", label=_("有异常提示"))

    class Meta:
        model = ServiceRecord
        fields = ["status"]

    def filter_flagged(self, queryset, name, value):
        if value is None:
            return queryset
        # `flags` is a JSON list; an empty list is stored as "[]" on every backend.
        if value:
            return queryset.exclude(flags=[])
        return queryset.filter(flags=[])
