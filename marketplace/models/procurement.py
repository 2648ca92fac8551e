"""Government purchase of services (政府购买服务), in the stages of the Open Contracting Data
Standard: planning (the catalogue), tender (lots, criteria, enquiries, sealed bids),
award (evaluation, ranking, standstill, complaints), contract and implementation
(milestones, delivered units, performance reviews with a drawn sample).

A bid is sealed: until the bid window closes its content exists only as ciphertext
(`Bid.sealed`, the plan document encrypted on disk); the plain price, team and declarations
are written by the opening service after the close, so no query, page or API can show them
earlier, whoever asks."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import LazyObject
from django.utils.translation import gettext_lazy as _
from wagtail.models import DraftStateMixin, RevisionMixin
from wagtail.search import index

from marketplace.models.cases import ServiceType
from marketplace.models.directory import Area, Organisation, User

__all__ = [
    "Award",
    "Bid",
    "CatalogueItem",
    "Complaint",
    "Contract",
    "Criterion",
    "DeliveryRecord",
    "EvaluatorAssignment",
    "Lot",
    "Milestone",
    "PerformanceReview",
    "ReviewSample",
    "Score",
    "Tender",
    "TenderQuestion",
]

MONEY = {"max_digits": 14, "decimal_places": 2}
SCORE = {"max_digits": 5, "decimal_places": 2}
HUNDRED = Decimal("100")


class PrivateStorage(LazyObject):
    """Files that are never served by the web server: sealed bid plans and delivery evidence
    are read only through views that check who asks."""

    def _setup(self):
        self._wrapped = FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT)


private_storage = PrivateStorage()


def private_storage_get() -> PrivateStorage:
    """The private storage, given to file fields as a callable so that migrations name this
    function rather than a location that differs between machines."""
    return private_storage


class Unit(models.TextChoices):
    """How a purchased service is counted."""

    VISIT = "visit", _("人次")
    HOUR = "hour", _("小时")
    HOUSEHOLD_MONTH = "household_month", _("户·月")
    PERSON = "person", _("人")
    SESSION = "session", _("场次")
    CASE = "case", _("个案")


class CatalogueItem(DraftStateMixin, RevisionMixin, index.Indexed, models.Model):
    """An item of the purchasing guidance catalogue (政府购买服务指导目录) of one year;
    `in_service_list` marks those on the year's service list (服务清单). Civil affairs edits
    items in the admin with drafts and revisions; only the live version is public and only
    live items may be bought."""

    class Category(models.TextChoices):
        ASSISTANCE = "assistance", _("社会救助服务")
        ELDERLY = "elderly", _("养老服务")
        CHILDREN = "children", _("儿童关爱服务")
        DISABILITY = "disability", _("助残服务")
        COMMUNITY = "community", _("社区治理服务")
        CAPACITY = "capacity", _("能力建设与评估")

    year = models.PositiveSmallIntegerField(
        _("目录年度"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    code = models.CharField(_("目录编码"), max_length=20)
    name = models.CharField(_("服务名称"), max_length=100)
    category = models.CharField(_("服务类别"), max_length=16, choices=Category.choices)
    service_type = models.ForeignKey(
        ServiceType,
        verbose_name=_("对应服务类型"),
        on_delete=models.PROTECT,
        related_name="catalogue_items",
    )
    description = models.TextField(_("服务内容"))
    service_standard = models.TextField(_("服务标准"))
    unit = models.CharField(_("计量单位"), max_length=16, choices=Unit.choices)
    guidance_price = models.DecimalField(
        _("指导价（元/单位）"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY
    )
    in_service_list = models.BooleanField(_("列入服务清单"), default=True)

    search_fields = [
        index.SearchField("name"),
        index.SearchField("description"),
        index.AutocompleteField("name"),
        index.FilterField("year"),
    ]

    class Meta:
        verbose_name = _("购买服务目录条目")
        verbose_name_plural = _("购买服务目录")
        ordering = ["-year", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "code"],
                name="catalogue_item_unique_code_in_year",
                violation_error_message=_("同一年度的目录编码不能重复。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Tender(models.Model):
    """采购项目: what civil affairs buys, split into lots by street, with its criteria, an
    enquiry period and a bid window judged by server time."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("公告中")
        OPENED = "opened", _("已开标")
        COMPLETE = "complete", _("已完成")
        CANCELLED = "cancelled", _("已终止")

    reference = models.CharField(_("项目编号"), max_length=32, unique=True)
    title = models.CharField(_("项目名称"), max_length=120)
    year = models.PositiveSmallIntegerField(_("年度"))
    buyer = models.ForeignKey(
        Organisation,
        verbose_name=_("采购人"),
        on_delete=models.PROTECT,
        related_name="tenders",
        limit_choices_to={"kind": Organisation.Kind.CIVIL_AFFAIRS},
    )
    scope = models.TextField(_("采购内容与范围"))
    qualification_requirements = models.TextField(_("资格要求"))
    enquiry_ends_at = models.DateTimeField(_("答疑截止时间"))
    bid_opens_at = models.DateTimeField(_("投标开始时间"))
    bid_closes_at = models.DateTimeField(_("投标截止（开标）时间"))
    standstill_days = models.PositiveSmallIntegerField(
        _("质疑期（天）"), default=7, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(_("开标时间"), null=True, blank=True)
    cancelled_reason = models.CharField(_("终止原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("采购项目")
        verbose_name_plural = _("采购项目")
        ordering = ["-bid_closes_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def clean(self) -> None:
        errors = {}
        if self.bid_opens_at and self.bid_closes_at and self.bid_opens_at >= self.bid_closes_at:
            errors["bid_closes_at"] = _("投标截止时间必须晚于投标开始时间。")
        if (
            self.enquiry_ends_at
            and self.bid_closes_at
            and self.enquiry_ends_at > self.bid_closes_at
        ):
            errors["enquiry_ends_at"] = _("答疑截止时间不能晚于投标截止时间。")
        if self.buyer_id and self.buyer.kind != Organisation.Kind.CIVIL_AFFAIRS:
            errors["buyer"] = _("采购人必须是区民政局。")
        if errors:
            raise ValidationError(errors)

    def window_open(self, now=None) -> bool:
        """Whether bids may be submitted, revised or withdrawn now (server time)."""
        now = now or timezone.now()
        return (
            self.status == self.Status.PUBLISHED and self.bid_opens_at <= now < self.bid_closes_at
        )

    def closed(self, now=None) -> bool:
        """Whether the bid window has closed (the moment bids may be opened)."""
        return (now or timezone.now()) >= self.bid_closes_at


class Lot(models.Model):
    """标段: one street's share of a tender, buying a quantity of one catalogue item."""

    class Status(models.TextChoices):
        OPEN = "open", _("招标中")
        AWARDED = "awarded", _("已定标")
        CONTRACTED = "contracted", _("已签约")
        FAILED = "failed", _("流标")

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="lots")
    number = models.PositiveSmallIntegerField(_("标段号"))
    title = models.CharField(_("标段名称"), max_length=120)
    street = models.ForeignKey(
        Area,
        verbose_name=_("服务街道"),
        on_delete=models.PROTECT,
        related_name="lots",
        limit_choices_to={"level": Area.Level.STREET},
    )
    catalogue_item = models.ForeignKey(
        CatalogueItem, verbose_name=_("目录条目"), on_delete=models.PROTECT, related_name="lots"
    )
    quantity = models.PositiveIntegerField(_("采购数量"), validators=[MinValueValidator(1)])
    budget = models.DecimalField(
        _("预算金额（元）"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY
    )
    min_team_size = models.PositiveSmallIntegerField(
        _("最少社工人数"), default=1, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    failed_reason = models.CharField(_("流标原因"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("标段")
        verbose_name_plural = _("标段")
        ordering = ["tender_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tender", "number"], name="lot_unique_number"),
        ]

    def __str__(self) -> str:
        return _("第%(number)s标段 %(title)s") % {"number": self.number, "title": self.title}

    def clean(self) -> None:
        errors = {}
        if self.street_id and self.street.level != Area.Level.STREET:
            errors["street"] = _("标段须按街道划分。")
        if self.catalogue_item_id and not self.catalogue_item.live:
            errors["catalogue_item"] = _("只能采购已发布的目录条目。")
        if errors:
            raise ValidationError(errors)


class Criterion(models.Model):
    """An evaluation criterion and its weight (weights of a tender sum to 100). The price
    criterion is scored by formula (lowest qualified price ÷ price × 100); evaluators score
    the others from 0 to 100."""

    class Kind(models.TextChoices):
        PRICE = "price", _("价格")
        PLAN = "plan", _("服务方案")
        TEAM = "team", _("团队配置")
        PERFORMANCE = "performance", _("以往业绩")
        OTHER = "other", _("其他")

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="criteria")
    kind = models.CharField(_("评分类型"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("评分项"), max_length=60)
    weight = models.PositiveSmallIntegerField(
        _("权重（%）"), validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    guidance = models.CharField(_("评分说明"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("评分项")
        verbose_name_plural = _("评分项")
        ordering = ["tender_id", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tender"], condition=Q(kind="price"), name="criterion_one_price"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.weight}%）"


class TenderQuestion(models.Model):
    """A question asked in the enquiry period; the answer is published to every bidder
    without saying who asked."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="questions")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="tender_questions"
    )
    asked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    question = models.TextField(_("问题"), max_length=2000)
    asked_at = models.DateTimeField(_("提问时间"), auto_now_add=True)
    answer = models.TextField(_("答复"), blank=True, max_length=4000)
    answered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("答疑")
        verbose_name_plural = _("答疑")
        ordering = ["asked_at", "pk"]

    def __str__(self) -> str:
        return self.question[:40]


class Bid(models.Model):
    """An agency's bid on one lot. While the window is open only `sealed` (ciphertext of the
    price, team and declarations) and the encrypted plan document exist; `bid_open_all`
    writes the plain fields after the close."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("已递交")
        WITHDRAWN = "withdrawn", _("已撤回")

    class Qualification(models.TextChoices):
        PENDING = "pending", _("待审查")
        PASSED = "passed", _("资格审查通过")
        FAILED = "failed", _("资格审查未通过")

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="bids")
    agency = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="bids")
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.SUBMITTED
    )
    submitted_at = models.DateTimeField(_("递交时间"))
    revised_at = models.DateTimeField(_("最后修改时间"))
    revision = models.PositiveSmallIntegerField(_("修改次数"), default=0)
    sealed = models.TextField(editable=False)
    plan_file = models.FileField(storage=private_storage_get, upload_to="bids/%Y/", editable=False)
    # Written at opening, never before.
    opened_at = models.DateTimeField(_("开启时间"), null=True, blank=True)
    price = models.DecimalField(_("投标报价（元）"), null=True, blank=True, **MONEY)
    plan_name = models.CharField(_("服务方案文件"), max_length=200, blank=True)
    team = models.ManyToManyField(
        User, verbose_name=_("服务团队"), blank=True, related_name="bid_teams"
    )
    declarations = models.JSONField(_("声明"), default=dict, blank=True)
    qualification = models.CharField(
        _("资格审查"),
        max_length=16,
        choices=Qualification.choices,
        default=Qualification.PENDING,
    )
    qualification_reason = models.CharField(_("审查意见"), max_length=300, blank=True)
    qualified_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    qualified_at = models.DateTimeField(_("审查时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("投标")
        verbose_name_plural = _("投标")
        ordering = ["lot_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["lot", "agency"],
                condition=Q(status="submitted"),
                name="bid_one_live_per_agency_and_lot",
                violation_error_message=_("本机构已对该标段投标，请修改原投标。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} · {self.lot}"


class EvaluatorAssignment(models.Model):
    """An evaluator assigned to a tender. They see its bids only after the close and only
    once they have declared no conflict of interest with every bidder."""

    class Declaration(models.TextChoices):
        PENDING = "pending", _("未声明")
        NO_CONFLICT = "no_conflict", _("无利益冲突")
        CONFLICT = "conflict", _("存在利益冲突（回避）")

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="evaluators")
    evaluator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="evaluations")
    assigned_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(_("指派时间"), auto_now_add=True)
    declaration = models.CharField(
        _("利益冲突声明"),
        max_length=16,
        choices=Declaration.choices,
        default=Declaration.PENDING,
    )
    declaration_note = models.CharField(_("声明说明"), max_length=300, blank=True)
    declared_at = models.DateTimeField(_("声明时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("评审专家指派")
        verbose_name_plural = _("评审专家指派")
        ordering = ["tender_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tender", "evaluator"], name="evaluator_once_per_tender"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} · {self.tender}"


class Score(models.Model):
    """One evaluator's score of one bid on one (non-price) criterion, 0–100."""

    assignment = models.ForeignKey(
        EvaluatorAssignment, on_delete=models.CASCADE, related_name="scores"
    )
    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="scores")
    score = models.DecimalField(
        _("得分"), validators=[MinValueValidator(0), MaxValueValidator(HUNDRED)], **SCORE
    )
    comment = models.CharField(_("评语"), max_length=300, blank=True)
    scored_at = models.DateTimeField(_("评分时间"), auto_now=True)

    class Meta:
        verbose_name = _("评分")
        verbose_name_plural = _("评分")
        constraints = [
            models.UniqueConstraint(fields=["assignment", "bid", "criterion"], name="score_once"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="score_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.score}"


class Award(models.Model):
    """The decision to award a lot to its top-ranked bid, with the ranking it was made on.
    During the standstill bidders on the lot may complain; an upheld complaint cancels it."""

    class Status(models.TextChoices):
        STANDSTILL = "standstill", _("公示/质疑期")
        FINAL = "final", _("已生效")
        CANCELLED = "cancelled", _("已撤销")

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="awards")
    bid = models.ForeignKey(Bid, on_delete=models.PROTECT, related_name="awards")
    value = models.DecimalField(_("中标金额（元）"), **MONEY)
    ranking = models.JSONField(_("评审排名"), default=list)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.STANDSTILL
    )
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("定标时间"))
    standstill_ends_at = models.DateTimeField(_("质疑期截止"))
    cancelled_reason = models.CharField(_("撤销原因"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("中标")
        verbose_name_plural = _("中标")
        ordering = ["-decided_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["lot"], condition=~Q(status="cancelled"), name="award_one_per_lot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lot} → {self.bid.agency}"


class Complaint(models.Model):
    """质疑: a bidder on the lot disputes an award during the standstill; civil affairs
    answers, upholding (the award is cancelled) or dismissing it."""

    class Status(models.TextChoices):
        OPEN = "open", _("待答复")
        UPHELD = "upheld", _("质疑成立")
        DISMISSED = "dismissed", _("质疑不成立")

    award = models.ForeignKey(Award, on_delete=models.PROTECT, related_name="complaints")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    lodged_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    lodged_at = models.DateTimeField(_("提出时间"), auto_now_add=True)
    grounds = models.TextField(_("质疑事项与理由"), max_length=4000)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    response = models.TextField(_("答复"), blank=True, max_length=4000)
    answered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("质疑")
        verbose_name_plural = _("质疑")
        ordering = ["lodged_at", "pk"]

    def __str__(self) -> str:
        return self.grounds[:40]


class Contract(models.Model):
    """合同 with the winning agency for one lot; its milestones are what must be delivered."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("履约中")
        COMPLETED = "completed", _("已完成")
        TERMINATED = "terminated", _("已终止")

    award = models.OneToOneField(Award, on_delete=models.PROTECT, related_name="contract")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="contracts")
    agency = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="contracts")
    number = models.CharField(_("合同编号"), max_length=40, unique=True)
    value = models.DecimalField(_("合同金额（元）"), **MONEY)
    starts_on = models.DateField(_("服务开始日期"))
    ends_on = models.DateField(_("服务结束日期"))
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(_("签订时间"))

    class Meta:
        verbose_name = _("合同")
        verbose_name_plural = _("合同")
        ordering = ["-signed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.number} {self.agency}"

    def get_absolute_url(self) -> str:
        return reverse("procurement:contract-detail", args=[self.pk])

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.starts_on > self.ends_on:
            raise ValidationError({"ends_on": _("服务结束日期不能早于开始日期。")})


class Milestone(models.Model):
    """履约节点: units of a service to deliver in a street by a reporting date, and the payment
    released when civil affairs accepts it."""

    class Status(models.TextChoices):
        OPEN = "open", _("履约中")
        SUBMITTED = "submitted", _("待验收")
        ACCEPTED = "accepted", _("已验收")
        REJECTED = "rejected", _("验收不通过")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField(_("序号"))
    title = models.CharField(_("节点名称"), max_length=120)
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="+")
    street = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(_("计量单位"), max_length=16, choices=Unit.choices)
    units_target = models.PositiveIntegerField(_("目标服务量"), validators=[MinValueValidator(1)])
    due_on = models.DateField(_("报告日期"))
    payment = models.DecimalField(
        _("验收后支付（元）"), validators=[MinValueValidator(Decimal("0"))], **MONEY
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    submitted_at = models.DateTimeField(_("提交验收时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    decision_note = models.CharField(_("验收意见"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("履约节点")
        verbose_name_plural = _("履约节点")
        ordering = ["contract_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "position"], name="milestone_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class DeliveryRecord(models.Model):
    """Units delivered towards a milestone: logged from a team's confirmed service record
    (`source_ref` names it, so it is counted once) or entered by the agency with evidence."""

    class Source(models.TextChoices):
        TEAM = "team", _("团队服务记录")
        AGENCY = "agency", _("机构填报")

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="deliveries")
    units = models.DecimalField(
        _("服务量"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    delivered_on = models.DateField(_("服务日期"))
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    source_ref = models.CharField(max_length=64, blank=True, editable=False)
    description = models.CharField(_("服务内容"), max_length=300)
    evidence = models.FileField(
        _("佐证材料"), storage=private_storage_get, upload_to="evidence/%Y/%m/", blank=True
    )
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("服务记录（合同）")
        verbose_name_plural = _("服务记录（合同）")
        ordering = ["-delivered_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_ref"], condition=~Q(source_ref=""), name="delivery_source_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivered_on} {self.units}"


class PerformanceReview(models.Model):
    """监督评估: a mid-term or final review of a contract. The system draws a random sample
    (at least 30%) of its delivery records for verification visits; the score joins the
    agency's track record."""

    class Kind(models.TextChoices):
        MIDTERM = "midterm", _("中期评估")
        FINAL = "final", _("末期评估")

    class Status(models.TextChoices):
        VERIFYING = "verifying", _("抽查核实中")
        COMPLETED = "completed", _("已完成")

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="reviews")
    kind = models.CharField(_("评估类型"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.VERIFYING
    )
    sample_rate = models.DecimalField(
        _("抽样比例"),
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.30")), MaxValueValidator(Decimal("1"))],
    )
    seed = models.CharField(max_length=64, editable=False)
    population = models.PositiveIntegerField(_("服务记录总数"))
    drawn_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    drawn_at = models.DateTimeField(_("抽样时间"))
    score = models.DecimalField(
        _("评估得分"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(HUNDRED)],
        **SCORE,
    )
    findings = models.TextField(_("评估意见"), blank=True, max_length=4000)
    completed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("绩效评估")
        verbose_name_plural = _("绩效评估")
        ordering = ["-drawn_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "kind"], name="review_once_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.contract} · {self.get_kind_display()}"


class ReviewSample(models.Model):
    """A delivery record drawn for a verification visit, and what the visit found."""

    class Result(models.TextChoices):
        PENDING = "pending", _("待核实")
        CONFIRMED = "confirmed", _("属实")
        DISCREPANCY = "discrepancy", _("部分不符")
        NOT_FOUND = "not_found", _("查无此服务")

    review = models.ForeignKey(PerformanceReview, on_delete=models.CASCADE, related_name="samples")
    record = models.ForeignKey(DeliveryRecord, on_delete=models.PROTECT, related_name="samples")
    result = models.CharField(
        _("核实结果"), max_length=16, choices=Result.choices, default=Result.PENDING
    )
    note = models.CharField(_("核实说明"), max_length=300, blank=True)
    checked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(_("核实时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("抽查记录")
        verbose_name_plural = _("抽查记录")
        ordering = ["review_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["review", "record"], name="sample_once"),
        ]

    def __str__(self) -> str:
        return f"{self.review} · {self.record}"
