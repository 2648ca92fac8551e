"""Money and goods in (donations) and out (disbursements to approved needs)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from charity.models.ledger import MONEY, Fund, Transaction
from marketplace.models import Area, Need, ServiceType, User


class Donation(models.Model):
    """Money, goods (item, quantity, valuation) or pledged services given to a fund, directly
    or through one of its projects. Money and goods enter the ledger; a service pledge is
    recorded and disclosed but has no book value. Refunded only by a reversing entry."""

    class Kind(models.TextChoices):
        MONEY = "money", _("资金")
        GOODS = "goods", _("物资")
        SERVICE = "service", _("服务认捐")

    class DonorKind(models.TextChoices):
        PERSON = "person", _("个人")
        ORGANISATION = "organisation", pgettext_lazy("捐赠方类型", "单位")
        ANONYMOUS = "anonymous", _("匿名")

    fund = models.ForeignKey(
        Fund, verbose_name=_("捐入基金"), on_delete=models.PROTECT, related_name="donations"
    )
    project = models.ForeignKey(
        "charity.ProjectPage",
        verbose_name=_("指定项目"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donations",
    )
    kind = models.CharField(_("捐赠类型"), max_length=16, choices=Kind.choices)
    amount = models.DecimalField(_("金额（元）"), null=True, blank=True, **MONEY)
    item = models.CharField(_("物资名称"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(
        _("数量"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    unit = models.CharField(_("单位"), max_length=10, blank=True)
    valuation = models.DecimalField(_("估值（元）"), null=True, blank=True, **MONEY)
    service_description = models.CharField(_("认捐服务"), max_length=200, blank=True)
    service_hours = models.DecimalField(
        _("认捐时长（小时）"), max_digits=8, decimal_places=1, null=True, blank=True
    )
    donor_kind = models.CharField(_("捐赠方类型"), max_length=16, choices=DonorKind.choices)
    donor_name = models.CharField(_("捐赠方名称"), max_length=100, blank=True)
    receipt_no = models.CharField(_("收据编号"), max_length=32, unique=True)
    received_on = models.DateField(_("接收日期"), default=timezone.localdate)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="donation"
    )
    refund_transaction = models.OneToOneField(
        Transaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunded_donation",
    )
    refund_reason = models.CharField(_("退还原因"), max_length=200, blank=True)
    refunded_at = models.DateTimeField(_("退还时间"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        User, verbose_name=_("登记人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("捐赠")
        verbose_name_plural = _("捐赠")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.receipt_no

    @property
    def value(self):
        """What the donation adds to the fund's books (money or goods valuation)."""
        if self.kind == self.Kind.MONEY:
            return self.amount
        if self.kind == self.Kind.GOODS:
            return self.valuation
        return None

    @property
    def public_donor(self) -> str:
        """The donor as disclosure shows it: an individual's name masked, anonymity kept."""
        if self.donor_kind == self.DonorKind.ANONYMOUS or not self.donor_name:
            return str(_("匿名"))
        if self.donor_kind == self.DonorKind.PERSON:
            return self.donor_name[0] + "*" * max(1, len(self.donor_name) - 1)
        return self.donor_name

    def clean(self) -> None:
        errors = {}
        if self.donor_kind != self.DonorKind.ANONYMOUS and not self.donor_name.strip():
            errors["donor_name"] = _("请填写捐赠方名称，或选择匿名。")
        if self.kind == self.Kind.MONEY and self.amount is None:
            errors["amount"] = _("资金捐赠须填写金额。")
        if self.kind == self.Kind.GOODS:
            if not self.item.strip():
                errors["item"] = _("物资捐赠须填写物资名称。")
            if not self.quantity:
                errors["quantity"] = _("物资捐赠须填写数量。")
            if self.valuation is None:
                errors["valuation"] = _("物资捐赠须填写估值，才能入账和公示。")
        if self.kind == self.Kind.SERVICE and not self.service_description.strip():
            errors["service_description"] = _("服务认捐须写明提供什么服务。")
        if self.project_id and self.fund_id and self.fund.project_id != self.project_id:
            errors["project"] = _("该项目不使用这个基金。")
        if errors:
            raise ValidationError(errors)


class Disbursement(models.Model):
    """Money or goods paid out of a fund to an approved need. Above the configured threshold
    it needs two different approvers. An emergency need may be paid first from the reserve;
    the payment must then be approved afterwards (regularised) before its deadline, or it is
    flagged for civil affairs."""

    class Kind(models.TextChoices):
        FUNDS = "funds", _("资金")
        GOODS = "goods", _("物资")

    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        PAID = "paid", _("已拨付")
        REJECTED = "rejected", _("已驳回")

    fund = models.ForeignKey(
        Fund, verbose_name=_("支出基金"), on_delete=models.PROTECT, related_name="disbursements"
    )
    need = models.ForeignKey(
        Need, verbose_name=_("需求"), on_delete=models.PROTECT, related_name="disbursements"
    )
    kind = models.CharField(_("拨付类型"), max_length=16, choices=Kind.choices)
    amount = models.DecimalField(_("金额/估值（元）"), **MONEY)
    item = models.CharField(_("物资名称"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("数量"), null=True, blank=True)
    # Copied from the need so that disclosure sums by category and street without the case.
    category = models.ForeignKey(
        ServiceType, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="+"
    )
    street = models.ForeignKey(
        Area, verbose_name=_("街道"), on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(
        _("用途（公开，已脱敏）"),
        max_length=200,
        help_text=_("会在公示页面显示：不要写姓名、身份证号、电话、门牌号。"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    required_approvals = models.PositiveSmallIntegerField(_("所需审批人数"), default=1)
    emergency = models.BooleanField(_("急难先行拨付"), default=False)
    regularise_by = models.DateTimeField(_("补办审批期限"), null=True, blank=True)
    regularised_at = models.DateTimeField(_("补办审批完成"), null=True, blank=True)
    flagged_at = models.DateTimeField(_("逾期标记时间"), null=True, blank=True, db_index=True)
    rejection_reason = models.CharField(_("驳回原因"), max_length=200, blank=True)
    transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="disbursement"
    )
    paid_at = models.DateTimeField(_("拨付时间"), null=True, blank=True, db_index=True)
    requested_by = models.ForeignKey(
        User, verbose_name=_("申请人"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("申请时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("拨付")
        verbose_name_plural = _("拨付")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="disbursement_positive"),
            models.CheckConstraint(
                condition=Q(required_approvals__in=[1, 2]), name="disbursement_one_or_two"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fund} → #{self.need_id} {self.amount}"

    def get_absolute_url(self) -> str:
        return reverse("charity:disbursement-detail", args=[self.pk])

    @staticmethod
    def approvals_needed_for(amount) -> int:
        return 2 if amount > settings.CHARITY_DUAL_APPROVAL_THRESHOLD else 1

    @property
    def awaiting_regularisation(self) -> bool:
        return self.emergency and self.status == self.Status.PAID and not self.regularised_at

    @property
    def overdue(self) -> bool:
        return bool(
            self.awaiting_regularisation
            and self.regularise_by
            and self.regularise_by < timezone.now()
        )


class DisbursementApproval(models.Model):
    """One approver's decision on a disbursement (before payment, or afterwards for an
    emergency payment from the reserve). One decision per person."""

    class Decision(models.TextChoices):
        APPROVE = "approve", _("同意")
        REJECT = "reject", _("驳回")

    disbursement = models.ForeignKey(
        Disbursement, on_delete=models.CASCADE, related_name="approvals"
    )
    approver = models.ForeignKey(
        User, verbose_name=_("审批人"), on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(_("意见"), max_length=16, choices=Decision.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    decided_at = models.DateTimeField(_("审批时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("拨付审批")
        verbose_name_plural = _("拨付审批")
        ordering = ["decided_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["disbursement", "approver"],
                name="approval_once_per_person",
                violation_error_message=_("同一人不能重复审批同一笔拨付。"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision}"
