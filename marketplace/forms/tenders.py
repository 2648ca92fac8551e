"""Forms of the tender and bid pages. They parse what was typed; the services judge it
(window, budget, qualification, plan type), so a refusal comes back with the same words
whichever way the request came in."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, CatalogueItem, Criterion, Tender
from marketplace.services.tenders import DECLARATION_LABELS, DECLARATIONS

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    """A phone's date-and-time picker, in local time."""

    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def _datetime(label):
    return forms.DateTimeField(
        label=label,
        widget=LocalDateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )


class TenderForm(forms.Form):
    """A tender's own fields (create and edit a draft)."""

    reference = forms.CharField(label=_("项目编号"), max_length=32)
    title = forms.CharField(label=_("项目名称"), max_length=120)
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)
    scope = forms.CharField(label=_("采购内容与范围"), widget=forms.Textarea(attrs={"rows": 3}))
    qualification_requirements = forms.CharField(
        label=_("资格要求"), widget=forms.Textarea(attrs={"rows": 3})
    )
    enquiry_ends_at = _datetime(_("答疑截止时间"))
    bid_opens_at = _datetime(_("投标开始时间"))
    bid_closes_at = _datetime(_("投标截止（开标）时间"))
    standstill_days = forms.IntegerField(
        label=_("质疑期（天）"), min_value=1, max_value=30, initial=7
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and "year" not in self.initial:
            self.initial["year"] = timezone.localdate().year

    @classmethod
    def for_tender(cls, tender: Tender) -> TenderForm:
        """The form filled with a draft's current values."""
        initial = {name: getattr(tender, name) for name in cls.base_fields}
        for name in ("enquiry_ends_at", "bid_opens_at", "bid_closes_at"):
            initial[name] = timezone.localtime(initial[name])
        return cls(initial=initial)


class LotForm(forms.Form):
    """A lot: one street buying a quantity of a live catalogue item."""

    title = forms.CharField(label=_("标段名称"), max_length=120)
    street = forms.ModelChoiceField(
        label=_("服务街道"), queryset=Area.objects.none(), empty_label=_("请选择街道")
    )
    catalogue_item = forms.ModelChoiceField(
        label=_("目录条目"), queryset=CatalogueItem.objects.none(), empty_label=_("请选择")
    )
    quantity = forms.IntegerField(label=_("采购数量"), min_value=1)
    budget = forms.DecimalField(
        label=_("预算金额（元）"), min_value=0.01, max_digits=14, decimal_places=2
    )
    min_team_size = forms.IntegerField(
        label=_("最少社工人数"), min_value=1, max_value=50, initial=1
    )

    def __init__(self, *args, year: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["street"].queryset = Area.objects.filter(level=Area.Level.STREET).order_by(
            "code"
        )
        # Only live items may be bought; the tender's year first.
        self.fields["catalogue_item"].queryset = CatalogueItem.objects.filter(
            live=True, year__gte=year - 1
        ).order_by("-year", "code")
        self.fields["catalogue_item"].label_from_instance = lambda item: (
            f"{item.year} {item.code} {item.name}（{item.guidance_price}元/"
            f"{item.get_unit_display()}）"
        )


class CriterionForm(forms.Form):
    """An evaluation criterion and its weight."""

    kind = forms.ChoiceField(label=_("评分类型"), choices=Criterion.Kind.choices)
    name = forms.CharField(label=_("评分项"), max_length=60)
    weight = forms.IntegerField(label=_("权重（%）"), min_value=1, max_value=100)
    guidance = forms.CharField(label=_("评分说明"), max_length=300, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("终止原因"), max_length=200, required=False)


class QuestionForm(forms.Form):
    question = forms.CharField(
        label=_("问题"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("答复（将公开，不显示提问机构）"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )


class BidForm(forms.Form):
    """A bid: price, plan document, team of the agency's social workers, declarations.
    The plan is required on submit and optional on revision (the sealed one is kept)."""

    agency = forms.ModelChoiceField(label=_("投标机构"), queryset=None, empty_label=None)
    price = forms.DecimalField(label=_("投标报价（元）"), max_digits=14, decimal_places=2)
    plan = forms.FileField(
        label=_("服务方案文件"),
        required=False,
        help_text=_("PDF 或 Word（DOCX），不超过 10 MB。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.docx"}),
    )
    team = forms.ModelMultipleChoiceField(
        label=_("服务团队（本机构社工）"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    info_true = forms.BooleanField(label=DECLARATION_LABELS["info_true"], required=False)
    no_collusion = forms.BooleanField(label=DECLARATION_LABELS["no_collusion"], required=False)
    no_debarment = forms.BooleanField(label=DECLARATION_LABELS["no_debarment"], required=False)

    def __init__(self, *args, agencies, workers, revising: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies
        if len(agencies) == 1:
            self.fields["agency"].widget = forms.HiddenInput()
            self.initial.setdefault("agency", agencies[0].pk)
        if revising:
            del self.fields["agency"]
            self.fields["plan"].help_text = _(
                "不上传则保留原方案。PDF 或 Word（DOCX），不超过 10 MB。"
            )
        self.fields["team"].queryset = workers
        self.fields["team"].label_from_instance = lambda u: str(u)

    def declarations(self) -> dict:
        return {name: bool(self.cleaned_data.get(name)) for name in DECLARATIONS}


class TenderFilter(django_filters.FilterSet):
    """Tenders by status and year."""

    status = django_filters.ChoiceFilter(
        label=_("状态"), choices=Tender.Status.choices, empty_label=_("全部状态")
    )
    year = django_filters.NumberFilter(label=_("年度"))

    class Meta:
        model = Tender
        fields = ["status", "year"]
