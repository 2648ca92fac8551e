"""Forms of opportunities, check-in and hours."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, ServiceType
from volunteers.models import Opportunity, Skill

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def _datetime_field(label):
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
    )


class OpportunityForm(forms.Form):
    """What, where, when and how many. On the posting page the organiser also picks the
    organisation (and optionally the team) it is for; those stay fixed afterwards."""

    organisation = forms.ModelChoiceField(
        label=_("发布组织"), queryset=None, empty_label=_("请选择组织")
    )
    team = forms.ModelChoiceField(
        label=_("所属团队"), queryset=None, required=False, empty_label=_("不属于团队")
    )
    title = forms.CharField(label=_("活动名称"), max_length=80)
    description = forms.CharField(
        label=_("活动内容"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    service_type = forms.ModelChoiceField(
        label=_("服务类型"),
        queryset=ServiceType.objects.order_by("position"),
        required=False,
        empty_label=_("不限"),
    )
    community = forms.ModelChoiceField(
        label=_("活动社区"),
        queryset=Area.objects.filter(level=Area.Level.COMMUNITY)
        .select_related("parent")
        .order_by("code"),
        empty_label=_("请选择社区"),
    )
    address = forms.CharField(label=_("集合地点"), max_length=120, required=False)
    starts_at = _datetime_field(_("开始时间"))
    ends_at = _datetime_field(_("结束时间"))
    slots = forms.IntegerField(label=_("招募人数"), min_value=1, max_value=500)
    skills = forms.ModelMultipleChoiceField(
        label=_("所需技能"),
        queryset=Skill.objects.order_by("position", "code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, organisations=None, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].label_from_instance = lambda a: (
            f"{a.parent.name} · {a.name}" if a.parent_id else a.name
        )
        if organisations is None:
            # Editing: the organisation and team an opportunity belongs to do not change.
            del self.fields["organisation"]
            del self.fields["team"]
        else:
            self.fields["organisation"].queryset = organisations
            self.fields["team"].queryset = teams

    def clean(self):
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("结束时间应晚于开始时间。"))
        team, organisation = data.get("team"), data.get("organisation")
        if (
            team is not None
            and organisation is not None
            and team.organisation_id != organisation.pk
        ):
            self.add_error("team", _("该团队不属于所选组织。"))
        return data

    @staticmethod
    def initial_for(opportunity: Opportunity) -> dict:
        """The edit form's starting values."""
        return {
            "title": opportunity.title,
            "description": opportunity.description,
            "service_type": opportunity.service_type_id,
            "community": opportunity.community_id,
            "address": opportunity.address,
            "starts_at": opportunity.starts_at,
            "ends_at": opportunity.ends_at,
            "slots": opportunity.slots,
            "skills": list(opportunity.skills.all()),
        }


class ReasonForm(forms.Form):
    """A required reason: cancelling an opportunity, revoking hours."""

    reason = forms.CharField(
        label=_("原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写原因。")},
    )

    def __init__(self, *args, label=None, **kwargs):
        super().__init__(*args, **kwargs)
        if label:
            self.fields["reason"].label = label


class CheckinForm(forms.Form):
    """The code from the organiser's phone and whether the volunteer arrives or leaves."""

    ACTIONS = [("in", _("签到")), ("out", _("签退"))]

    code = forms.RegexField(
        label=_("签到码"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"invalid": _("请输入6位数字签到码。")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": r"\d{6}"}
        ),
    )
    action = forms.ChoiceField(label=_("操作"), choices=ACTIONS, widget=forms.HiddenInput)
