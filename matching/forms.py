"""Forms of the matching pages: they parse input only. Who may do what is the services'
rule (`match_run_may_start`, `proposal_may_decide`, `proposal_item_may_respond`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area
from matching.models import Level, Proposal


def _is_district(area: Area) -> bool:
    return area.level == Area.Level.DISTRICT


class RunStartForm(forms.Form):
    """The area of a new run. Any street or the district parses, so that a street official
    naming another street hears the service's refusal, not "invalid choice"; the select only
    offers the areas the user may run (`choices_for`)."""

    area = forms.ModelChoiceField(
        label=_("匹配范围"),
        queryset=Area.objects.filter(level__in=[Area.Level.DISTRICT, Area.Level.STREET]),
        empty_label=_("请选择街道或全区"),
        error_messages={
            "required": _("请选择匹配范围。"),
            "invalid_choice": _("所选匹配范围不存在，只能选择街道或全区。"),
        },
    )

    def __init__(self, *args, choices_for=None, **kwargs):
        super().__init__(*args, **kwargs)
        if choices_for is not None:
            field = self.fields["area"]
            field.widget.choices = [("", field.empty_label)] + [
                (
                    a.pk,
                    _("全区（%(name)s）") % {"name": a.name} if a.level == "district" else a.name,
                )
                for a in choices_for
            ]


class ProposalFilterForm(forms.Form):
    """Filters of the proposal list. The street filter is offered to civil affairs only (a
    street official sees their own street anyway)."""

    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *Proposal.Status.choices]
    )
    level = forms.ChoiceField(
        label=_("审批层级"), required=False, choices=[("", _("全部层级")), *Level.choices]
    )
    street = forms.ModelChoiceField(
        label=_("街道"),
        required=False,
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        empty_label=_("全部街道"),
    )
    run = forms.IntegerField(
        label=_("匹配运行编号"),
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, with_street: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_street:
            del self.fields["street"]


class _DecisionForm(forms.Form):
    """The three decision forms share one page: each names its fields' ids apart."""

    id_prefix = "decision"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class ApproveForm(_DecisionForm):
    """Approve, with an optional note."""

    id_prefix = "approve"

    note = forms.CharField(
        label=_("审批意见（可选）"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RejectForm(_DecisionForm):
    """Reject, with the reason the providers are set aside for this need."""

    id_prefix = "reject"

    reason = forms.CharField(
        label=_("驳回原因"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("驳回须填写原因。")},
    )


class RedoForm(_DecisionForm):
    """Ask for another proposal, optionally saying what should differ."""

    id_prefix = "redo"

    note = forms.CharField(
        label=_("重新匹配说明（可选）"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RespondForm(forms.Form):
    """A provider's answer; a decline must say why (the service enforces it)."""

    ACCEPT, DECLINE = "accept", "decline"

    answer = forms.ChoiceField(
        label=_("答复"),
        choices=[(ACCEPT, _("接受")), (DECLINE, _("婉拒"))],
        error_messages={
            "required": _("请选择接受或婉拒。"),
            "invalid_choice": _("答复只能是接受或婉拒。"),
        },
    )
    reason = forms.CharField(
        label=_("婉拒原因"),
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    @property
    def accepted(self) -> bool:
        return self.cleaned_data["answer"] == self.ACCEPT
