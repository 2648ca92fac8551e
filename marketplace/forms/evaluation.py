"""Forms of the evaluation and award pages: qualification, evaluator assignment, the
conflict-of-interest declaration, score sheets, failing a lot, complaints and answers. The
forms check what a person can get wrong on the page; the services hold the rules."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import Criterion, Score, User

YES_NO = [("yes", _("是")), ("no", _("否"))]
SCORE_ERRORS = {
    "required": _("请为该项打分。"),
    "invalid": _("请输入数字分值。"),
    "min_value": _("分值应在0到100之间"),
    "max_value": _("分值应在0到100之间"),
    "max_decimal_places": _("分值最多保留两位小数。"),
    "max_digits": _("分值应在0到100之间"),
    "max_whole_digits": _("分值应在0到100之间"),
}


class QualifyForm(forms.Form):
    """Pass or fail one bid's qualification check."""

    result = forms.ChoiceField(
        label=_("资格审查结论"),
        choices=[("passed", _("通过")), ("failed", _("不通过"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择审查结论。")},
    )
    reason = forms.CharField(
        label=_("审查意见（不通过时必填）"),
        required=False,
        max_length=300,
        widget=forms.TextInput,
    )

    def service_arguments(self) -> dict:
        return {
            "passed": self.cleaned_data["result"] == "passed",
            "reason": self.cleaned_data["reason"],
        }


class EvaluatorAssignForm(forms.Form):
    """Choose an expert of the evaluator pool for the tender's panel."""

    evaluator = forms.ModelChoiceField(
        label=_("评审专家"),
        queryset=User.objects.none(),
        error_messages={
            "required": _("请选择评审专家。"),
            "invalid_choice": _("该用户不是评审专家，或已被指派。"),
        },
    )

    def __init__(self, *args, evaluators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evaluator"].queryset = evaluators


class DeclarationForm(forms.Form):
    """An evaluator's declaration of interest, once, after opening."""

    conflict = forms.ChoiceField(
        label=_("与上述投标机构是否存在利益冲突"),
        choices=[("no", _("不存在利益冲突")), ("yes", _("存在利益冲突，申请回避"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择是否存在利益冲突。")},
    )
    note = forms.CharField(
        label=_("说明（存在利益冲突时必填）"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("本人承诺以上声明真实，声明提交后不能更改"),
        error_messages={"required": _("请确认声明内容。")},
    )

    def service_arguments(self) -> dict:
        return {
            "conflict": self.cleaned_data["conflict"] == "yes",
            "note": self.cleaned_data["note"],
        }


class ScoreSheetForm(forms.Form):
    """One evaluator's scores of one bid: a score (0–100) and a comment per non-price
    criterion; the fields are named `score_<criterion id>` and `comment_<criterion id>`."""

    def __init__(
        self,
        *args,
        criteria: list[Criterion],
        existing: dict[int, Score] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        existing = existing or {}
        for c in criteria:
            mine = existing.get(c.pk)
            self.fields[f"score_{c.pk}"] = forms.DecimalField(
                label=_("%(name)s（权重%(weight)s%%）") % {"name": c.name, "weight": c.weight},
                min_value=Decimal("0"),
                max_value=Decimal("100"),
                max_digits=5,
                decimal_places=2,
                help_text=c.guidance,
                initial=mine.score if mine else None,
                error_messages=SCORE_ERRORS,
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            )
            self.fields[f"comment_{c.pk}"] = forms.CharField(
                label=_("评语"),
                required=False,
                max_length=300,
                initial=mine.comment if mine else "",
            )

    def rows(self):
        """Each criterion with its score and comment fields, for the template."""
        return [(c, self[f"score_{c.pk}"], self[f"comment_{c.pk}"]) for c in self.criteria]

    def service_arguments(self) -> dict:
        return {
            "scores": {c.pk: self.cleaned_data[f"score_{c.pk}"] for c in self.criteria},
            "comments": {c.pk: self.cleaned_data[f"comment_{c.pk}"] for c in self.criteria},
        }


class AwardForm(forms.Form):
    """Award the lot to its top-ranked bid (the service computes the ranking)."""


class LotFailForm(forms.Form):
    """Declare a lot failed."""

    reason = forms.CharField(
        label=_("流标原因"),
        max_length=300,
        error_messages={"required": _("请填写流标原因。")},
    )


class ComplaintForm(forms.Form):
    """A bidder's complaint about an award, during the standstill."""

    grounds = forms.CharField(
        label=_("质疑事项与理由"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": _("请填写质疑事项与理由。")},
    )


class ComplaintAnswerForm(forms.Form):
    """Civil affairs' answer to a complaint."""

    decision = forms.ChoiceField(
        label=_("答复结论"),
        choices=[
            ("dismissed", _("质疑不成立（维持定标）")),
            ("upheld", _("质疑成立（撤销定标，重新评审）")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择答复结论。")},
    )
    response = forms.CharField(
        label=_("答复意见"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("请填写答复意见。")},
    )

    def service_arguments(self) -> dict:
        return {
            "upheld": self.cleaned_data["decision"] == "upheld",
            "response": self.cleaned_data["response"],
        }
