"""The shared domain: places, organisations, people and their roles."""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from marketplace.validators import validate_credit_code


class Area(models.Model):
    """A place at one of three levels: the district, its streets / towns / development zones,
    and their communities / villages."""

    class Level(models.TextChoices):
        DISTRICT = "district", _("区")
        STREET = "street", _("街道/镇/开发区")
        COMMUNITY = "community", _("社区/村")

    class Kind(models.TextChoices):
        DISTRICT = "district", _("区")
        SUBDISTRICT = "subdistrict", _("街道")
        TOWN = "town", _("镇")
        ZONE = "zone", _("开发区")
        COMMUNITY = "community", _("社区")
        VILLAGE = "village", _("村")

    KINDS_BY_LEVEL = {
        Level.DISTRICT: {Kind.DISTRICT},
        Level.STREET: {Kind.SUBDISTRICT, Kind.TOWN, Kind.ZONE},
        Level.COMMUNITY: {Kind.COMMUNITY, Kind.VILLAGE},
    }
    PARENT_LEVEL = {
        Level.DISTRICT: None,
        Level.STREET: Level.DISTRICT,
        Level.COMMUNITY: Level.STREET,
    }

    name = models.CharField(_("名称"), max_length=64)
    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices, db_index=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="area_unique_name_in_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind and self.level and self.kind not in self.KINDS_BY_LEVEL[self.level]:
            raise ValidationError({"kind": _("该类型与区域层级不符。")})
        expected = self.PARENT_LEVEL.get(self.level)
        if expected is None and self.parent_id:
            raise ValidationError({"parent": _("区不能有上级区域。")})
        if expected is not None and (self.parent is None or self.parent.level != expected):
            raise ValidationError({"parent": _("上级区域层级不正确。")})

    @property
    def street(self) -> "Area | None":
        """The street-level area this place lies in (itself for a street)."""
        if self.level == self.Level.STREET:
            return self
        if self.level == self.Level.COMMUNITY:
            return self.parent
        return None


class Organisation(models.Model):
    """Every organisation in the 五社联动 model, from civil affairs to a mutual-aid society."""

    class Kind(models.TextChoices):
        CIVIL_AFFAIRS = "civil_affairs", _("区民政局")
        DEPARTMENT = "department", _("区直部门")
        STREET_OFFICE = "street_office", _("街道办事处/镇政府/开发区管委会")
        COMMUNITY = "community", _("社区居委会/村委会")
        CHARITY = "charity", _("慈善组织")
        AGENCY = "agency", _("社会工作服务机构")
        SOCIAL_WORK_STATION = "social_work_station", _("社工站")
        VOLUNTEER_ORG = "volunteer_org", _("志愿服务组织")
        VOLUNTEER_FEDERATION = "volunteer_federation", _("志愿者联合会")
        MUTUAL_AID = "mutual_aid", _("社区慈善公益互助会")

    class Department(models.TextChoices):
        EDUCATION = "education", _("区教体局")
        HOUSING = "housing", _("区住建局")
        HEALTH = "health", _("区卫健委")
        EMPLOYMENT = "employment", _("区人社局")
        MEDICAL_INSURANCE = "medical_insurance", _("区医保局")
        EMERGENCY = "emergency", _("区应急管理局")
        FINANCE = "finance", _("区财政局")
        AUDIT = "audit", _("区审计局")
        DISCIPLINE = "discipline", _("区纪委监委")

    # Where each kind sits: government bodies at their own level, the rest anywhere.
    AREA_LEVELS = {
        Kind.CIVIL_AFFAIRS: {Area.Level.DISTRICT},
        Kind.DEPARTMENT: {Area.Level.DISTRICT},
        Kind.STREET_OFFICE: {Area.Level.STREET},
        Kind.COMMUNITY: {Area.Level.COMMUNITY},
        Kind.SOCIAL_WORK_STATION: {Area.Level.STREET},
        Kind.VOLUNTEER_FEDERATION: {Area.Level.STREET},
        Kind.MUTUAL_AID: {Area.Level.STREET, Area.Level.COMMUNITY},
    }
    # Kinds that are registered social organisations and so carry a credit code.
    NEEDS_CREDIT_CODE = {
        Kind.CHARITY,
        Kind.AGENCY,
        Kind.VOLUNTEER_ORG,
    }

    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=32, choices=Kind.choices, db_index=True)
    department = models.CharField(_("部门"), max_length=32, choices=Department.choices, blank=True)
    area = models.ForeignKey(
        Area, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="organisations"
    )
    # Denormalised from `area` so that "organisations of a street" is one indexed filter.
    street = models.ForeignKey(
        Area,
        verbose_name=_("所属街道"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, blank=True, validators=[validate_credit_code]
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    legal_representative = models.CharField(_("法定代表人"), max_length=32, blank=True)
    # The organisation's contact phone, stored like every phone (crypto.sealed_phone); the
    # hash lets civil affairs see bidders that share a phone without reading it.
    phone_cipher = models.TextField(editable=False, blank=True)
    phone_hash = models.CharField(max_length=64, editable=False, blank=True, db_index=True)
    phone_masked = models.CharField(_("联系电话"), max_length=16, editable=False, blank=True)
    description = models.TextField(_("简介"), blank=True)
    verified = models.BooleanField(_("已认证"), default=False, db_index=True)
    verified_at = models.DateTimeField(_("认证时间"), null=True, blank=True)
    verified_by = models.ForeignKey(
        "marketplace.User",
        verbose_name=_("认证人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~Q(credit_code=""),
                name="organisation_unique_credit_code",
                violation_error_message=_("该统一社会信用代码已被其他组织使用。"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.street = self.area.street if self.area_id else None
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("organisation-detail", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        if self.credit_code:
            self.credit_code = self.credit_code.strip().upper()
        if self.kind in self.NEEDS_CREDIT_CODE and not self.credit_code:
            errors["credit_code"] = _("社会组织须填写统一社会信用代码。")
        if self.kind == self.Kind.DEPARTMENT and not self.department:
            errors["department"] = _("区直部门须选择具体部门。")
        if self.kind != self.Kind.DEPARTMENT and self.department:
            errors["department"] = _("只有区直部门可以选择部门。")
        levels = self.AREA_LEVELS.get(self.kind)
        if levels and self.area_id and self.area.level not in levels:
            errors["area"] = _("该类型组织不能设在此层级的区域。")
        if errors:
            raise ValidationError(errors)


class User(AbstractUser):
    """A person who signs in. What they may do comes from their memberships."""

    display_name = models.CharField(_("姓名"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username


class Role(models.TextChoices):
    CIVIL_AFFAIRS_OFFICIAL = "civil_affairs_official", _("民政干部")
    STREET_OFFICIAL = "street_official", _("街道干部")
    COMMUNITY_WORKER = "community_worker", _("社区工作者")
    CHARITY_STAFF = "charity_staff", _("慈善组织工作人员")
    AGENCY_STAFF = "agency_staff", _("社工机构工作人员")
    SOCIAL_WORKER = "social_worker", _("社会工作者")
    VOLUNTEER = "volunteer", _("志愿者")
    APPLICANT = "applicant", _("救助申请人")
    AUDITOR = "auditor", _("审计/纪检（只读）")
    DEPARTMENT_STAFF = "department_staff", _("部门工作人员")
    VOLUNTEER_MANAGER = "volunteer_manager", _("志愿组织管理员")
    EVALUATOR = "evaluator", _("评审专家")


_K = Organisation.Kind
# Which organisation kinds a role can be held in; None means "held without an organisation".
ROLE_ORGANISATION_KINDS: dict[str, set] = {
    Role.CIVIL_AFFAIRS_OFFICIAL: {_K.CIVIL_AFFAIRS},
    Role.STREET_OFFICIAL: {_K.STREET_OFFICE},
    Role.COMMUNITY_WORKER: {_K.COMMUNITY},
    Role.CHARITY_STAFF: {_K.CHARITY, _K.MUTUAL_AID},
    Role.AGENCY_STAFF: {_K.AGENCY, _K.SOCIAL_WORK_STATION},
    Role.SOCIAL_WORKER: {_K.AGENCY, _K.SOCIAL_WORK_STATION},
    Role.VOLUNTEER: {None, _K.VOLUNTEER_ORG, _K.VOLUNTEER_FEDERATION},
    Role.APPLICANT: {None},
    Role.AUDITOR: {_K.DEPARTMENT, _K.CIVIL_AFFAIRS},
    Role.DEPARTMENT_STAFF: {_K.DEPARTMENT},
    Role.VOLUNTEER_MANAGER: {_K.VOLUNTEER_ORG, _K.VOLUNTEER_FEDERATION},
    # Evaluators sit on the district's expert pool, not in an organisation.
    Role.EVALUATOR: {None},
}


class Membership(models.Model):
    """A user holding a role, in an organisation where the role needs one."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("组织"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices, db_index=True)
    created_at = models.DateTimeField(_("加入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("组织成员")
        verbose_name_plural = _("组织成员")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"],
                condition=Q(organisation__isnull=False),
                name="membership_unique_in_organisation",
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=Q(organisation__isnull=True),
                name="membership_unique_without_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"

    def clean(self) -> None:
        allowed = ROLE_ORGANISATION_KINDS.get(self.role, set())
        kind = self.organisation.kind if self.organisation_id else None
        if kind not in allowed:
            raise ValidationError({"organisation": _("该角色不能在此类组织中担任。")})
        if (
            self.role == Role.AUDITOR
            and kind == _K.DEPARTMENT
            and self.organisation.department
            not in {Organisation.Department.AUDIT, Organisation.Department.DISCIPLINE}
        ):
            raise ValidationError({"organisation": _("审计角色只能由审计或纪检部门人员担任。")})
