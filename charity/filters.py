"""Filters for the public list of service projects."""

import django_filters
from django import forms
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from charity.models import ProjectPage
from marketplace.models import Area, ServiceType

KIND_CHOICES = [
    ("funds", _("资金")),
    ("goods", _("物资")),
    ("services", _("服务")),
]
KIND_FIELDS = {"funds": "gives_funds", "goods": "gives_goods", "services": "gives_services"}


class ProjectFilter(django_filters.FilterSet):
    """What a project gives, its service type, a street it covers, and whether it still has
    places."""

    kind = django_filters.ChoiceFilter(
        choices=KIND_CHOICES, method="filter_kind", label=_("提供内容"), empty_label=_("全部")
    )
    service_type = django_filters.ModelChoiceFilter(
        queryset=ServiceType.objects.order_by("position", "code"),
        method="filter_service_type",
        label=_("服务类型"),
        empty_label=_("全部服务类型"),
    )
    street = django_filters.ModelChoiceFilter(
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        method="filter_street",
        label=_("街道/镇/开发区"),
        empty_label=_("全部街道"),
    )
    open_only = django_filters.BooleanFilter(
        method="filter_open_only", label=_("只看仍有名额"), widget=forms.CheckboxInput
    )

    class Meta:
        model = ProjectPage
        fields = ["kind", "service_type", "street", "open_only"]

    def filter_kind(self, queryset, name, value):
        field = KIND_FIELDS.get(value)
        return queryset.filter(**{field: True}) if field else queryset

    # Subqueries rather than joins, so a project appears once whatever else matches.
    def filter_service_type(self, queryset, name, value):
        ids = ProjectPage.service_types.through.objects.filter(servicetype=value)
        return queryset.filter(pk__in=ids.values("projectpage_id"))

    def filter_street(self, queryset, name, value):
        ids = ProjectPage.streets.through.objects.filter(area=value)
        return queryset.filter(pk__in=ids.values("projectpage_id"))

    def filter_open_only(self, queryset, name, value):
        return queryset.filter(capacity__gt=F("places_taken")) if value else queryset
