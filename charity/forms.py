"""Forms of the fund pages: donations and refunds, disbursement requests and decisions,
emergency payments from the reserve and transfers between funds.

Every form that moves money or goods carries a hidden idempotency key, made when the empty
form is shown and sent back unchanged on every re-render, so a double click or a retried
POST is recorded once by the services."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from charity.models import Disbursement, Donation, Fund, ProjectPage
from marketplace.models import Need

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


def new_key() -> str:
    """A fresh idempotency key for an empty form."""
    return uuid.uuid4().hex


class MoneyField(forms.DecimalField):
    """Yuan: more than zero, at most two decimals, with the errors said in plain words."""

    def __init__(self, *, label, required=True, **kwargs):
        super().__init__(
            label=label,
            required=required,
            max_digits=14,
            decimal_places=2,
            min_value=Decimal("0.01"),
            max_value=Decimal("100000000"),
            widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
            error_messages={
                "required": format_lazy(_("请填写{label}。"), label=label),
                "invalid": format_lazy(_("{label}必须是数字。"), label=label),
                "min_value": format_lazy(_("{label}必须大于 0。"), label=label),
                "max_value": format_lazy(_("{label}超出上限。"), label=label),
                "max_decimal_places": format_lazy(
                    _("{label}最多两位小数（精确到分）。"), label=label
                ),
                "max_digits": format_lazy(_("{label}超出上限。"), label=label),
                "max_whole_digits": format_lazy(_("{label}超出上限。"), label=label),
            },
            **kwargs,
        )


class KeyedForm(forms.Form):
    """A form whose POST carries an idempotency key (see the module's docstring)."""

    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_key())

    def clean(self):
        data = super().clean()
        if not KEY_PATTERN.match(data.get("idempotency_key") or ""):
            # A hidden field's error would not be seen: say it above the form.
            self.add_error(None, _("请求编号无效，请刷新页面后重新提交。"))
        return data

    def service_kwargs(self, *names: str) -> dict:
        """The cleaned values the service takes, with the key."""
        data = {name: self.cleaned_data[name] for name in names}
        data["idempotency_key"] = self.cleaned_data["idempotency_key"]
        return data


# --- Donations ---------------------------------------------------------------------------


class DonationForm(KeyedForm):
    """What was given (money, goods with a valuation, or a pledged service), by whom, when,
    and optionally for which of the fund's projects."""

    # The fields each kind uses; the others are ignored (and hidden by the page's script).
    KIND_FIELDS = {
        Donation.Kind.MONEY: ("amount",),
        Donation.Kind.GOODS: ("item", "quantity", "unit", "valuation"),
        Donation.Kind.SERVICE: ("service_description", "service_hours"),
    }

    kind = forms.ChoiceField(
        label=_("捐赠类型"),
        choices=Donation.Kind.choices,
        initial=Donation.Kind.MONEY,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择捐赠类型。")},
    )
    amount = MoneyField(label=_("金额（元）"), required=False)
    item = forms.CharField(label=_("物资名称"), max_length=100, required=False)
    quantity = forms.IntegerField(
        label=_("数量"),
        min_value=1,
        max_value=1000000,
        required=False,
        error_messages={
            "invalid": _("数量须为正整数。"),
            "min_value": _("数量须为正整数。"),
            "max_value": _("数量超出上限。"),
        },
    )
    unit = forms.CharField(label=_("单位"), max_length=10, required=False)
    valuation = MoneyField(label=_("估值（元）"), required=False)
    service_description = forms.CharField(label=_("认捐服务"), max_length=200, required=False)
    service_hours = forms.DecimalField(
        label=_("认捐时长（小时）"),
        max_digits=8,
        decimal_places=1,
        min_value=Decimal("0.5"),
        required=False,
        error_messages={
            "invalid": _("时长必须是数字。"),
            "min_value": _("时长至少 0.5 小时。"),
            "max_decimal_places": _("时长最多一位小数。"),
            "max_digits": _("时长超出上限。"),
            "max_whole_digits": _("时长超出上限。"),
        },
    )
    donor_kind = forms.ChoiceField(
        label=_("捐赠方类型"),
        choices=Donation.DonorKind.choices,
        initial=Donation.DonorKind.PERSON,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择捐赠方类型。")},
    )
    donor_name = forms.CharField(
        label=_("捐赠方名称"),
        max_length=100,
        required=False,
        help_text=_("个人捐赠在公示页面只显示姓氏；匿名捐赠不显示名称。"),
    )
    project = forms.ModelChoiceField(
        label=_("指定项目"),
        queryset=ProjectPage.objects.none(),
        required=False,
        empty_label=_("不指定项目"),
    )
    received_on = forms.DateField(
        label=_("接收日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("请填写接收日期。"),
            "invalid": _("请输入正确的日期。"),
        },
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, fund: Fund, **kwargs):
        super().__init__(*args, **kwargs)
        # Only a project that uses this fund may be named on the donation.
        self.fields["project"].queryset = ProjectPage.objects.filter(funds=fund).order_by("pk")
        if not self.is_bound:
            self.initial.setdefault("received_on", timezone.localdate())

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Donation.Kind.MONEY and data.get("amount") is None:
            self._require("amount", _("资金捐赠须填写金额。"))
        if kind == Donation.Kind.GOODS:
            if not (data.get("item") or "").strip():
                self._require("item", _("物资捐赠须填写物资名称。"))
            if data.get("quantity") is None:
                self._require("quantity", _("物资捐赠须填写数量。"))
            if data.get("valuation") is None:
                self._require("valuation", _("物资捐赠须填写估值，才能入账和公示。"))
        if kind == Donation.Kind.SERVICE and not (data.get("service_description") or "").strip():
            self._require("service_description", _("服务认捐须写明提供什么服务。"))
        donor_kind = data.get("donor_kind")
        if (
            donor_kind
            and donor_kind != Donation.DonorKind.ANONYMOUS
            and not (data.get("donor_name") or "").strip()
        ):
            self._require("donor_name", _("请填写捐赠方名称，或选择匿名。"))
        received_on = data.get("received_on")
        if received_on and received_on > timezone.localdate():
            self.add_error("received_on", _("接收日期不能晚于今天。"))
        return data

    def _require(self, name: str, message) -> None:
        # A field that already failed (e.g. "three decimals") keeps its own message.
        if name not in self.errors:
            self.add_error(name, message)

    def service_arguments(self) -> dict:
        """What `donation_record` takes: the fields of the chosen kind only."""
        data = self.cleaned_data
        kind = data["kind"]
        kwargs = self.service_kwargs("kind", "donor_kind", "project", "received_on", "note")
        kwargs["donor_name"] = data["donor_name"].strip()
        for name in self.KIND_FIELDS[kind]:
            value = data.get(name)
            if value is not None:
                kwargs[name] = value.strip() if isinstance(value, str) else value
        return kwargs


class RefundForm(KeyedForm):
    """Why the donation goes back."""

    reason = forms.CharField(
        label=_("退还原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请写明退还原因。")},
    )


# --- Disbursements -----------------------------------------------------------------------


def need_label(need: Need) -> str:
    """A need as the chooser shows it: public facts only, never the household."""
    parts = [
        f"#{need.pk}",
        str(need.service_type.name),
        f"{need.street.name} · {need.community.name}",
    ]
    if need.amount is not None:
        parts.append(str(_("%(amount)s 元") % {"amount": need.amount}))
    if need.quantity:
        parts.append(str(_("数量 %(n)s") % {"n": need.quantity}))
    if need.public_description:
        parts.append(need.public_description[:40])
    return " · ".join(parts)


class _PayoutFields(KeyedForm):
    """Amount and, for goods, what and how many; shared by requests and reserve payments."""

    amount = MoneyField(label=_("金额/估值（元）"))
    item = forms.CharField(label=_("物资名称"), max_length=100, required=False)
    quantity = forms.IntegerField(
        label=_("数量"),
        min_value=1,
        max_value=1000000,
        required=False,
        error_messages={
            "invalid": _("数量须为正整数。"),
            "min_value": _("数量须为正整数。"),
            "max_value": _("数量超出上限。"),
        },
    )
    purpose = forms.CharField(
        label=_("用途（公开，已脱敏）"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("会在公示页面显示：不要写姓名、身份证号、电话、门牌号。"),
        error_messages={"required": _("请写明用途（会公开显示，不要写个人信息）。")},
    )

    def _check_goods(self, kind) -> None:
        if kind != Disbursement.Kind.GOODS:
            return
        if not (self.cleaned_data.get("item") or "").strip() and "item" not in self.errors:
            self.add_error("item", _("物资拨付须填写物资名称。"))
        if self.cleaned_data.get("quantity") is None and "quantity" not in self.errors:
            self.add_error("quantity", _("物资拨付须填写数量。"))


class DisbursementForm(_PayoutFields):
    """Ask a fund to pay a confirmed need."""

    need = forms.ModelChoiceField(
        label=_("需求"),
        queryset=Need.objects.none(),
        empty_label=_("请选择已确认的需求"),
        error_messages={
            "required": _("请选择需求。"),
            "invalid_choice": _("该需求不能从这个基金拨付，请重新选择。"),
        },
    )
    kind = forms.ChoiceField(
        label=_("拨付类型"),
        choices=Disbursement.Kind.choices,
        initial=Disbursement.Kind.FUNDS,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择拨付类型。")},
    )

    field_order = ["need", "kind", "amount", "item", "quantity", "purpose"]

    def __init__(self, *args, needs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["need"].queryset = needs
        self.fields["need"].label_from_instance = need_label
        self.order_fields(self.field_order)

    def clean(self):
        data = super().clean()
        self._check_goods(data.get("kind"))
        return data

    def service_arguments(self) -> dict:
        kwargs = self.service_kwargs("need", "kind", "amount", "purpose")
        if kwargs["kind"] == Disbursement.Kind.GOODS:
            kwargs["item"] = self.cleaned_data["item"].strip()
            kwargs["quantity"] = self.cleaned_data["quantity"]
        return kwargs

    @staticmethod
    def threshold() -> Decimal:
        return settings.CHARITY_DUAL_APPROVAL_THRESHOLD


class ReserveAdvanceForm(_PayoutFields):
    """Pay an emergency need at once from the reserve (goods only for a goods need)."""

    def __init__(self, *args, need: Need, **kwargs):
        self.need = need
        super().__init__(*args, **kwargs)
        if need.kind != Need.Kind.GOODS:
            del self.fields["item"]
            del self.fields["quantity"]
            self.fields["amount"].label = _("金额（元）")
            if not self.is_bound and need.amount:
                self.initial.setdefault("amount", need.amount)

    @property
    def kind(self) -> str:
        return (
            Disbursement.Kind.GOODS
            if self.need.kind == Need.Kind.GOODS
            else Disbursement.Kind.FUNDS
        )

    def clean(self):
        data = super().clean()
        self._check_goods(self.kind)
        return data

    def service_arguments(self) -> dict:
        kwargs = self.service_kwargs("amount", "purpose")
        kwargs["kind"] = self.kind
        if self.kind == Disbursement.Kind.GOODS:
            kwargs["item"] = self.cleaned_data["item"].strip()
            kwargs["quantity"] = self.cleaned_data["quantity"]
        return kwargs


class ApproveForm(KeyedForm):
    """An approval, with an optional note."""

    note = forms.CharField(
        label=_("审批意见"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RejectForm(KeyedForm):
    """A refusal, with its reason."""

    reason = forms.CharField(
        label=_("驳回原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请写明驳回原因。")},
    )


# --- Transfers ---------------------------------------------------------------------------


class TransferForm(KeyedForm):
    """Move money from this fund to another one."""

    target = forms.ModelChoiceField(
        label=_("调入基金"),
        queryset=Fund.objects.none(),
        empty_label=_("请选择调入基金"),
        error_messages={
            "required": _("请选择调入基金。"),
            "invalid_choice": _("不能调入该基金，请重新选择。"),
        },
    )
    amount = MoneyField(label=_("金额（元）"))
    memo = forms.CharField(
        label=_("调拨事由"),
        max_length=200,
        error_messages={"required": _("请写明调拨事由。")},
    )

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets

    def service_arguments(self) -> dict:
        kwargs = self.service_kwargs("target", "amount", "memo")
        kwargs["memo"] = kwargs["memo"].strip()
        return kwargs
