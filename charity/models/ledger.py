"""Funds and their double-entry ledger.

Every movement of money or goods is a `Transaction` of `Posting`s whose amounts sum to zero
(debits positive, credits negative). Postings are never changed or deleted: a mistake or a
refund is corrected by a transaction that reverses another. Each fund has four accounts:
what it holds in money and in goods (assets, never below zero), what it received
(donations, a credit balance) and what it paid out (disbursements). `Account.balance` is the
running sum of the account's postings, written by the ledger service under a row lock; the
database refuses an asset balance below zero on every backend, and on PostgreSQL a deferred
constraint trigger refuses an unbalanced transaction at commit and any change to a posting.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from marketplace.models import Organisation, User

MONEY = {"max_digits": 14, "decimal_places": 2}


class Fund(models.Model):
    """A pool of money and goods: the district's 瑶海益家 special fund, the emergency reserve
    (备用金), a charity's project fund or a mutual-aid society's small fund."""

    class Kind(models.TextChoices):
        SPECIAL = "special", _("瑶海益家社会救助专项基金")
        RESERVE = "reserve", _("临时救助备用金")
        PROJECT = "project", _("慈善项目资金")
        MUTUAL_AID = "mutual_aid", _("互助会小额基金")

    # The district holds one special fund and one reserve.
    DISTRICT_KINDS = {Kind.SPECIAL, Kind.RESERVE}

    code = models.SlugField(_("基金编号"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, db_index=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("管理组织"),
        on_delete=models.PROTECT,
        related_name="funds",
    )
    project = models.ForeignKey(
        "charity.ProjectPage",
        verbose_name=_("所属项目"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="funds",
    )
    description = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("设立时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("基金")
        verbose_name_plural = _("基金")
        ordering = ["kind", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind__in=["special", "reserve"]),
                name="fund_one_special_one_reserve",
                violation_error_message=_("全区只设一个瑶海益家专项基金和一个备用金。"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("charity:fund-detail", args=[self.pk])

    def get_disclosure_url(self) -> str:
        return reverse("disclosure-fund", args=[self.code])

    def clean(self) -> None:
        errors = {}
        if self.kind == self.Kind.PROJECT and not self.project_id:
            errors["project"] = _("项目资金须选择所属项目。")
        if self.kind != self.Kind.PROJECT and self.project_id:
            errors["project"] = _("只有项目资金可以关联项目。")
        if self.organisation_id:
            expected = {
                self.Kind.SPECIAL: {Organisation.Kind.CIVIL_AFFAIRS},
                self.Kind.RESERVE: {Organisation.Kind.CIVIL_AFFAIRS},
                self.Kind.PROJECT: {
                    Organisation.Kind.CHARITY,
                    Organisation.Kind.MUTUAL_AID,
                    Organisation.Kind.AGENCY,
                },
                self.Kind.MUTUAL_AID: {Organisation.Kind.MUTUAL_AID},
            }.get(self.kind, set())
            if self.organisation.kind not in expected:
                errors["organisation"] = _("该类型的基金不能由此类组织管理。")
        if errors:
            raise ValidationError(errors)

    def account(self, kind: str) -> Account:
        """One of the fund's four accounts (prefetched by the selectors)."""
        for account in self.accounts.all():
            if account.kind == kind:
                return account
        raise Account.DoesNotExist(kind)

    @property
    def cash_balance(self) -> Decimal:
        return self.account(Account.Kind.CASH).balance

    @property
    def goods_balance(self) -> Decimal:
        return self.account(Account.Kind.GOODS).balance


class Account(models.Model):
    """One of a fund's accounts. Debits are positive, credits negative."""

    class Kind(models.TextChoices):
        CASH = "cash", _("资金余额")
        GOODS = "goods", _("物资（估值）")
        DONATIONS = "donations", _("捐赠收入")
        PAID_OUT = "paid_out", _("拨付支出")

    ASSETS = {Kind.CASH, Kind.GOODS}

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(_("科目"), max_length=16, choices=Kind.choices)
    balance = models.DecimalField(_("余额"), default=Decimal("0.00"), **MONEY)

    class Meta:
        verbose_name = _("账户")
        verbose_name_plural = _("账户")
        ordering = ["fund_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "kind"], name="account_one_per_kind"),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | ~Q(kind__in=["cash", "goods"]),
                name="account_asset_not_negative",
                violation_error_message=_("基金余额不能为负数。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fund} · {self.get_kind_display()}"


class Operation(models.Model):
    """An idempotency key: the first request with a key is applied, a retry with the same key
    and the same content returns what the first one made, a retry with other content is
    refused. The key row is written in the same transaction as the operation's effects."""

    key = models.CharField(_("请求编号"), max_length=64, unique=True)
    kind = models.CharField(_("操作"), max_length=32)
    fingerprint = models.CharField(max_length=64)
    result_id = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("记账请求")
        verbose_name_plural = _("记账请求")

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class Transaction(models.Model):
    """One balanced movement in the ledger (记账分录)."""

    class Kind(models.TextChoices):
        DONATION = "donation", _("捐赠入账")
        DISBURSEMENT = "disbursement", _("拨付")
        TRANSFER = "transfer", _("基金间调拨")
        REVERSAL = "reversal", _("冲正")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, db_index=True)
    memo = models.CharField(_("摘要"), max_length=200)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("冲正的分录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    created_by = models.ForeignKey(
        User, verbose_name=_("记账人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("记账时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("记账分录")
        verbose_name_plural = _("记账分录")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.memo}"


class ImmutablePosting(Exception):
    """A posting may only be written once."""


class Posting(models.Model):
    """One line of a transaction. Never updated or deleted."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.DecimalField(_("金额"), **MONEY)

    class Meta:
        verbose_name = _("分录明细")
        verbose_name_plural = _("分录明细")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="posting_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutablePosting("postings are never changed; reverse the transaction")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutablePosting("postings are never deleted; reverse the transaction")
