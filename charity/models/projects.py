"""Service projects: what a charity, mutual-aid society or agency offers, as Wagtail pages.

A project sits in its organisation's section of the project index, so Wagtail's page
permissions keep each organisation to its own pages, and it is published only through the
civil-affairs review workflow. Matching and search read live projects as supply.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from marketplace.validators import normalise_phone, validate_phone

# The page model projects sit under; named, never imported (charity does not import cms).
SECTION_MODEL = "cms.ProjectSectionPage"


class ProjectPage(Page):
    """A service project: what it gives (funds, goods, services), to whom, where, for how
    long and how many people it can take."""

    organisation = models.ForeignKey(
        "marketplace.Organisation",
        verbose_name=_("实施组织"),
        on_delete=models.PROTECT,
        editable=False,
        related_name="project_pages",
    )
    summary = models.CharField(_("项目简介"), max_length=200)
    gives_funds = models.BooleanField(_("提供资金"), default=False)
    gives_goods = models.BooleanField(_("提供物资"), default=False)
    gives_services = models.BooleanField(_("提供服务"), default=False)
    service_types = ParentalManyToManyField(
        "marketplace.ServiceType",
        verbose_name=_("服务类型"),
        blank=True,
        related_name="project_pages",
    )
    streets = ParentalManyToManyField(
        "marketplace.Area",
        verbose_name=_("覆盖街道"),
        limit_choices_to={"level": "street"},
        related_name="project_pages",
    )
    budget = models.DecimalField(
        _("项目预算（元）"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"), message=_("项目预算不能为负数。"))],
        error_messages={
            "max_decimal_places": _("项目预算最多保留两位小数（精确到分）。"),
            "max_digits": _("项目预算金额过大。"),
            "max_whole_digits": _("项目预算金额过大。"),
            "invalid": _("请输入正确的金额。"),
        },
    )
    capacity = models.PositiveIntegerField(
        _("可服务人数"),
        validators=[MinValueValidator(1, message=_("可服务人数至少为 1 人。"))],
        help_text=_("项目可以帮助的救助对象人数。"),
    )
    places_taken = models.PositiveIntegerField(_("已服务人数"), default=0, editable=False)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    eligibility = models.TextField(
        _("受助条件"), help_text=_("用通俗的话说明什么样的家庭或个人可以申请。")
    )
    contact_name = models.CharField(_("联系人"), max_length=32)
    contact_phone = models.CharField(
        _("联系电话"),
        max_length=20,
        validators=[validate_phone],
        help_text=_("11位手机号码，或带区号的固定电话。"),
    )
    body = RichTextField(_("项目详情"), blank=True)

    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        MultiFieldPanel(
            [
                FieldRowPanel(
                    [
                        FieldPanel("gives_funds"),
                        FieldPanel("gives_goods"),
                        FieldPanel("gives_services"),
                    ]
                ),
                FieldPanel("service_types", widget=forms.CheckboxSelectMultiple),
            ],
            heading=_("提供内容"),
        ),
        FieldPanel("streets", widget=forms.CheckboxSelectMultiple),
        FieldRowPanel([FieldPanel("budget"), FieldPanel("capacity")]),
        FieldRowPanel([FieldPanel("starts_on"), FieldPanel("ends_on")]),
        FieldPanel("eligibility"),
        FieldRowPanel([FieldPanel("contact_name"), FieldPanel("contact_phone")]),
        FieldPanel("body"),
    ]

    parent_page_types = [SECTION_MODEL]
    subpage_types: list[str] = []
    template = "charity/project_page.html"

    class Meta:
        verbose_name = _("服务项目")
        verbose_name_plural = _("服务项目")

    @property
    def open_capacity(self) -> int:
        """Places still free: beneficiaries the project can take on."""
        return max((self.capacity or 0) - (self.places_taken or 0), 0)

    @property
    def kinds(self) -> list[str]:
        """What the project gives, in words, for lists and the page."""
        labels = []
        for field in ("gives_funds", "gives_goods", "gives_services"):
            if getattr(self, field):
                labels.append(KIND_LABELS[field])
        return labels

    @property
    def ended(self) -> bool:
        return bool(self.ends_on and self.ends_on < timezone.localdate())

    def _section_organisation_id(self) -> int | None:
        """The organisation of the section the page sits in (None before it is placed)."""
        if not self.path or not self.depth or self.depth < 2:
            return None
        section = apps.get_model(SECTION_MODEL)
        parent_path = self.path[: -self.steplen]
        return (
            section.objects.filter(path=parent_path).values_list("organisation_id", flat=True)
        ).first()

    def with_content_json(self, content):
        """A revision restores what editors wrote, never the count of beneficiaries the
        ledger keeps: publishing an older draft must not give places back."""
        obj = super().with_content_json(content)
        obj.places_taken = self.places_taken
        return obj

    def save(self, *args, **kwargs):
        # The organisation always follows the section, whoever saves the page and however
        # (the admin's forms, a service, a copy or a move).
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "organisation" in update_fields:
            organisation_id = self._section_organisation_id()
            if organisation_id is not None:
                self.organisation_id = organisation_id
        return super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list] = {}
        if not (self.gives_funds or self.gives_goods or self.gives_services):
            errors.setdefault("gives_funds", []).append(
                _("请至少选择一种提供内容：资金、物资或服务。")
            )
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors.setdefault("ends_on", []).append(_("结束日期不能早于开始日期。"))
        if self.contact_phone:
            self.contact_phone = normalise_phone(self.contact_phone)
        if self.capacity is not None and self.capacity < (self.places_taken or 0):
            errors.setdefault("capacity", []).append(
                _("可服务人数不能少于已服务人数（%(n)d 人）。") % {"n": self.places_taken}
            )
        if self.summary is not None:
            self.summary = self.summary.strip()
        if errors:
            raise ValidationError(errors)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["service_types"] = list(self.service_types.all())
        context["streets"] = list(self.streets.order_by("code"))
        return context


KIND_LABELS = {
    "gives_funds": _("资金"),
    "gives_goods": _("物资"),
    "gives_services": _("服务"),
}
