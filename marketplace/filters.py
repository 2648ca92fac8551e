"""Filters for the organisation directory, shared by the HTML page and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, Organisation


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
