"""Forms and list filters of the team pages."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, Contract
from marketplace.selectors.cases import need_public_list
from volunteers.models import Team, TeamTask
from volunteers.models.teams import MESSAGE_MAX_CHARS

__all__ = [
    "TeamCreateForm",
    "TeamFilter",
    "TeamMemberAddForm",
    "TeamMessageForm",
    "TeamTaskForm",
]


class TeamFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("关键词"), max_length=50)
    status = django_filters.ChoiceFilter(choices=Team.Status.choices, label=_("状态"))
    street = django_filters.ModelChoiceFilter(
        field_name="organisation__street",
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        label=_("街道/镇/开发区"),
        empty_label=_("全部街道"),
    )

    class Meta:
        model = Team
        fields = ["q", "status", "street"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(purpose__icontains=value)
            | Q(leader__real_name__icontains=value)
        )


class _VolunteerChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.real_name}（{obj.home_community.name}）"


class _NeedChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        # Only the de-identified fields of an open need are loaded and shown.
        return f"#{obj.pk} {obj.service_type.name} · {obj.community.name}"


class _ContractChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.number} · {obj.lot.title}"


class TeamCreateForm(forms.Form):
    name = forms.CharField(label=_("团队名称"), max_length=80)
    leader = forms.ModelChoiceField(label=_("带队社工"), queryset=None, empty_label=None)
    need = _NeedChoiceField(
        label=_("服务需求"),
        queryset=None,
        required=False,
        empty_label=_("（暂不关联）"),
        help_text=_("可选：团队服务的公开需求。"),
    )
    contract = _ContractChoiceField(
        label=_("购买服务合同"),
        queryset=None,
        required=False,
        empty_label=_("（暂不关联）"),
        help_text=_("可选：团队履行的购买服务合同，团队确认的服务时长计入合同服务量。"),
    )
    purpose = forms.CharField(label=_("服务内容"), max_length=200, required=False)
    volunteers = _VolunteerChoiceField(
        label=_("志愿者"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("本街道的志愿者及加入本街道志愿组织的志愿者。"),
    )

    def __init__(self, *args, leaders, volunteers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leader"].queryset = leaders
        self.fields["volunteers"].queryset = volunteers
        self.fields["need"].queryset = need_public_list()
        # Active contracts of the agencies whose social workers may lead.
        self.fields["contract"].queryset = (
            Contract.objects.filter(
                agency_id__in=leaders.values("organisation_id"), status=Contract.Status.ACTIVE
            )
            .select_related("lot")
            .order_by("-signed_at", "-pk")
        )


class _VolunteerOneField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.real_name}（{obj.home_community.name}）"


class TeamMemberAddForm(forms.Form):
    volunteer = _VolunteerOneField(label=_("添加志愿者"), queryset=None)

    def __init__(self, *args, volunteers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["volunteer"].queryset = volunteers


class TeamMessageForm(forms.Form):
    # The service trims and checks the length too; the form's limit is the same.
    body = forms.CharField(
        label=_("消息"),
        max_length=MESSAGE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MESSAGE_MAX_CHARS}),
        error_messages={"required": _("消息不能为空。")},
    )


class TeamTaskForm(forms.ModelForm):
    class Meta:
        model = TeamTask
        fields = ["title", "description", "due_at"]
        widgets = {
            "due_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        }
