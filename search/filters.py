"""The search page's and API's parameters, validated once for both: the text, the facet
filters (type, street, service type, status) and the page. Any value the search cannot mean
is refused with a message in Chinese (a 400), never passed on."""

from __future__ import annotations

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, ServiceType
from search.backends.base import SearchQuery
from search.builders import STATUS_LABELS, TYPE_LABELS
from search.models import SearchEntry

MAX_QUERY_LENGTH = 100


class _PageFilter(django_filters.Filter):
    field_class = forms.IntegerField


def _keep(queryset, name, value):
    # Nothing is filtered in the database here: the filterset only validates, and the
    # backend applies the values.
    return queryset


class SearchFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("搜索"),
        method=_keep,
        max_length=MAX_QUERY_LENGTH,
        error_messages={"max_length": _("搜索词太长：最多 %(limit_value)d 个字。")},
    )
    type = django_filters.ChoiceFilter(
        label=_("类型"),
        method=_keep,
        choices=list(TYPE_LABELS.items()),
        empty_label=_("全部类型"),
        error_messages={"invalid_choice": _("未知的类型：%(value)s。")},
    )
    street = django_filters.ModelChoiceFilter(
        label=_("街道/镇/开发区"),
        method=_keep,
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        empty_label=_("全部街道"),
        error_messages={"invalid_choice": _("未知的街道。")},
    )
    service_type = django_filters.ModelChoiceFilter(
        label=_("服务类型"),
        method=_keep,
        queryset=ServiceType.objects.order_by("position", "code"),
        empty_label=_("全部服务类型"),
        error_messages={"invalid_choice": _("未知的服务类型。")},
    )
    status = django_filters.ChoiceFilter(
        label=_("状态"),
        method=_keep,
        choices=list(STATUS_LABELS.items()),
        empty_label=_("全部状态"),
        error_messages={"invalid_choice": _("未知的状态：%(value)s。")},
    )
    page = _PageFilter(
        label=_("页码"),
        method=_keep,
        min_value=1,
        max_value=settings.SEARCH_MAX_PAGE,
        error_messages={
            "invalid": _("页码须为正整数。"),
            "min_value": _("页码须为正整数。"),
            "max_value": _("页码不能超过 %(limit_value)s：请换个更具体的词或加上筛选。"),
        },
    )

    class Meta:
        model = SearchEntry
        fields: list[str] = []

    def __init__(self, data=None, *args, allowed_types: tuple[str, ...] = (), **kwargs):
        kwargs.setdefault("queryset", SearchEntry.objects.none())
        super().__init__(data, *args, **kwargs)
        self.allowed_types = allowed_types
        self.form.fields["q"].widget = forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("如：养老、心理疏导、助餐"),
                "autofocus": True,
            }
        )
        self.form.clean_type = self._clean_type

    def _clean_type(self):
        value = self.form.cleaned_data.get("type")
        if value and self.allowed_types and value not in self.allowed_types:
            raise ValidationError(_("登录后才能搜索%(type)s。") % {"type": TYPE_LABELS[value]})
        return value

    def errors_text(self) -> str:
        """Every error in one line, for an API answer or a page's notice."""
        return "；".join(str(e) for errors in self.form.errors.values() for e in errors)

    def to_query(self) -> SearchQuery:
        """The validated values as a backend query (call after `is_valid()`)."""
        data = self.form.cleaned_data
        street = data.get("street")
        service_type = data.get("service_type")
        return SearchQuery(
            q=(data.get("q") or "").strip(),
            types=(data["type"],) if data.get("type") else (),
            street_id=street.pk if street else None,
            service_type_id=service_type.pk if service_type else None,
            status=data.get("status") or "",
            page=data.get("page") or 1,
            page_size=settings.SEARCH_PAGE_SIZE,
        )
