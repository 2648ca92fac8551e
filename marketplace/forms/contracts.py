"""Forms of the contract pages: the list filter, signing with a milestone formset, delivery
entry with evidence, logging a team's work, milestone acceptance, and the review steps.
Forms only parse; the services decide."""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import (
    Area,
    Contract,
    Organisation,
    PerformanceReview,
    ReviewSample,
)
from marketplace.services.contracts import MilestoneSpec

# A date input speaks ISO whatever the language of the page.
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ContractFilter(django_filters.FilterSet):
    """Contracts by status, street and agency."""

    status = django_filters.ChoiceFilter(
        label=_("状态"), choices=Contract.Status.choices, empty_label=_("全部状态")
    )
    street = django_filters.ModelChoiceFilter(
        label=_("街道"),
        field_name="lot__street",
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        empty_label=_("全部街道"),
    )
    agency = django_filters.ModelChoiceFilter(
        label=_("承接机构"),
        queryset=Organisation.objects.filter(
            kind__in=[Organisation.Kind.AGENCY, Organisation.Kind.SOCIAL_WORK_STATION]
        ).order_by("name"),
        empty_label=_("全部机构"),
    )

    class Meta:
        model = Contract
        fields = ["status", "street", "agency"]


class ContractSignForm(forms.Form):
    number = forms.CharField(label=_("合同编号"), max_length=40)
    starts_on = forms.DateField(label=_("服务开始日期"), widget=DATE)
    ends_on = forms.DateField(label=_("服务结束日期"), widget=DATE)


class MilestoneForm(forms.Form):
    title = forms.CharField(label=_("节点名称"), max_length=120)
    units_target = forms.IntegerField(label=_("目标服务量"), min_value=1)
    due_on = forms.DateField(label=_("报告日期"), widget=DATE)
    payment = forms.DecimalField(
        label=_("验收后支付（元）"), min_value=Decimal("0"), max_digits=14, decimal_places=2
    )

    def spec(self) -> MilestoneSpec:
        data = {k: v for k, v in self.cleaned_data.items() if k != "DELETE"}
        return MilestoneSpec(**data)


class BaseMilestoneFormSet(forms.BaseFormSet):
    def specs(self) -> list[MilestoneSpec]:
        """The milestones entered, in order, without blank or deleted rows."""
        return [
            form.spec()
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]


# One blank row to add a milestone; a row may be deleted (at least one must remain).
MilestoneFormSet = forms.formset_factory(
    MilestoneForm,
    formset=BaseMilestoneFormSet,
    extra=1,
    can_delete=True,
    min_num=1,
    validate_min=True,
    max_num=12,
    validate_max=True,
)


class DeliveryForm(forms.Form):
    milestone = forms.ModelChoiceField(label=_("履约节点"), queryset=None, empty_label=None)
    units = forms.DecimalField(
        label=_("服务量"), min_value=Decimal("0.01"), max_digits=10, decimal_places=2
    )
    delivered_on = forms.DateField(label=_("服务日期"), widget=DATE)
    description = forms.CharField(label=_("服务内容"), max_length=300)
    evidence = forms.FileField(
        label=_("佐证材料"),
        help_text=_("签到表、服务记录单或照片：PDF、JPG 或 PNG。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )

    def __init__(self, *args, milestones, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = milestones


class TeamLogForm(forms.Form):
    milestone = forms.ModelChoiceField(label=_("计入节点"), queryset=None, empty_label=None)
    team = forms.ModelChoiceField(label=_("服务团队"), queryset=None, empty_label=None)

    def __init__(self, *args, milestones, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = milestones
        self.fields["team"].queryset = teams


DECISIONS = [("accept", _("验收通过")), ("reject", _("验收不通过"))]


class MilestoneDecideForm(forms.Form):
    decision = forms.ChoiceField(label=_("验收结论"), choices=DECISIONS, widget=forms.RadioSelect)
    note = forms.CharField(label=_("验收意见"), max_length=300, required=False)


class ReviewDrawForm(forms.Form):
    kind = forms.ChoiceField(label=_("评估类型"), choices=PerformanceReview.Kind.choices)
    rate = forms.DecimalField(
        label=_("抽样比例"),
        min_value=Decimal("0.30"),
        max_value=Decimal("1"),
        max_digits=3,
        decimal_places=2,
        initial=Decimal("0.30"),
        help_text=_("0.30 至 1.00，系统随机抽取服务记录用于核实走访。"),
    )


CHECKED = [c for c in ReviewSample.Result.choices if c[0] != ReviewSample.Result.PENDING]


class SampleVerifyForm(forms.Form):
    result = forms.ChoiceField(label=_("核实结果"), choices=CHECKED)
    note = forms.CharField(label=_("核实说明"), max_length=300, required=False)


class ReviewCompleteForm(forms.Form):
    score = forms.DecimalField(
        label=_("评估得分"), min_value=0, max_value=100, max_digits=5, decimal_places=2
    )
    findings = forms.CharField(label=_("评估意见"), max_length=4000, widget=forms.Textarea)
