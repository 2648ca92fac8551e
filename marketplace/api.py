"""REST API of the shared domain, with the product-wide error translation."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_choice_description_list
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.exceptions import DomainError, InvalidState, NotPermitted
from marketplace.filters import (
    CaseFilter,
    NeedFilter,
    OrganisationFilter,
    PublicNeedFilter,
    ReferralFilter,
    WarningFilter,
)
from marketplace.models import (
    Area,
    Case,
    CaseMember,
    Consent,
    Need,
    NeedTransition,
    Organisation,
    Referral,
    Role,
    SensitiveAccess,
    ServiceType,
    Warning,
)
from marketplace.models.cases import INCOME_CEILING, Category
from marketplace.selectors import (
    CASE_STAFF_ROLES,
    REVEAL_ROLES,
    case_get_for_user,
    case_list_for_user,
    case_may_reveal,
    case_member_list,
    need_get_for_user,
    need_list_for_user,
    need_public_get,
    need_public_list,
    organisation_get_for_user,
    organisation_list_for_user,
    referral_get_for_user,
    referral_list_for_user,
    user_scope,
    warning_get_for_user,
    warning_list_for_user,
)
from marketplace.services import (
    IntakeResult,
    MemberInput,
    NeedInput,
    case_apply_online,
    case_candidate_verify,
    case_register,
    case_report_discovery,
    need_create,
    need_transition,
    organisation_create,
    organisation_verify,
    referral_accept,
    referral_complete,
    referral_return,
    referral_send,
    sensitive_reveal,
    warning_verify,
)

# The need lifecycle's actor rule lives in the service; the detail offers exactly the steps
# it would accept.
from marketplace.services.cases import need_transitions_allowed


def exception_handler(exc, context):
    """DRF's handler, plus: domain errors and model validation become 4xx with a translated
    message and a stable code, never a 500."""
    if isinstance(exc, NotPermitted):
        exc = PermissionDenied(detail=exc.message, code=exc.code)
    elif isinstance(exc, DjangoValidationError):
        exc = ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, DomainError):
        status_code = (
            status.HTTP_409_CONFLICT
            if isinstance(exc, InvalidState)
            else status.HTTP_400_BAD_REQUEST
        )
        return Response({"code": exc.code, "detail": str(exc.message)}, status=status_code)
    return drf_exception_handler(exc, context)


def schema_product_endpoints(endpoints):
    """Keep only the product's own endpoints (under /api/) in the OpenAPI schema."""
    return [e for e in endpoints if e[0].startswith("/api/")]


class OrganisationSerializer(serializers.ModelSerializer):
    area = serializers.PrimaryKeyRelatedField(queryset=Area.objects.all(), label=_("所在区域"))
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    street_name = serializers.CharField(source="street.name", read_only=True, default=None)

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "kind",
            "kind_display",
            "department",
            "area",
            "area_name",
            "street",
            "street_name",
            "credit_code",
            "address",
            "description",
            "verified",
            "verified_at",
        ]
        read_only_fields = ["street", "verified", "verified_at"]
        # The partial unique constraint is checked by the service's full_clean.
        validators = []


class OrganisationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The organisation directory. Anyone reads what the directory shows them; civil affairs
    and street officials register organisations; civil affairs verifies them."""

    serializer_class = OrganisationSerializer
    filterset_class = OrganisationFilter
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    def get_queryset(self):
        return organisation_list_for_user(user=self.request.user)

    def get_object(self):
        return organisation_get_for_user(organisation_id=self.kwargs["pk"], user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = organisation_create(
            created_by=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=None, responses=OrganisationSerializer)
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def verify(self, request, pk=None):
        organisation = organisation_verify(organisation=self.get_object(), verified_by=request.user)
        return Response(self.get_serializer(organisation).data)


# --- Assistance cases, needs, referrals and warnings ------------------------------------
#
# Only masked identity ever leaves through these serializers (`id_masked`, `phone_masked`);
# a full ID number or phone comes out of `reveal` alone, one audited value per call. Birth
# dates are not exposed either: with the masked ID they would complete the number.

# Who takes a household in at the window or reports one found on a visit.
INTAKE_ROLES = {Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER}
# Departments register too: their cases come in through the referral channel.
REGISTER_ROLES = INTAKE_ROLES | {Role.DEPARTMENT_STAFF}


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose OpenAPI enum is one named component (`NeedStatusEnum`), so that
    the several `status` and `kind` choice sets of the product do not collide in the schema."""

    def __init__(self, *, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(**kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self):
        return self.target.enum_name

    def map_serializer_field(self, auto_schema, direction):
        choices = [c for c in self.target.choices if c not in ("", None)]
        return {
            "type": "string",
            "enum": choices,
            "description": build_choice_description_list(
                [(c, self.target.choices[c]) for c in choices]
            ),
        }


def _enum(enum_name: str, choices, **kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name=enum_name, choices=choices, **kwargs)


def need_status_field(**kwargs) -> NamedChoiceField:
    return _enum("NeedStatusEnum", Need.Status.choices, **kwargs)


def need_kind_field(**kwargs) -> NamedChoiceField:
    return _enum("NeedKindEnum", Need.Kind.choices, **kwargs)


def role_required(roles, message):
    """A permission for an endpoint a role may not use at all: 403 before anything is read."""

    class RolePermission(permissions.BasePermission):
        def has_permission(self, request, view):
            return user_scope(user=request.user).has(*roles)

    RolePermission.message = message
    return RolePermission


def _is_case_staff(user) -> bool:
    return user_scope(user=user).has(*CASE_STAFF_ROLES)


# Read serializers ------------------------------------------------------------------------


class CaseMemberSerializer(serializers.ModelSerializer):
    relationship_display = serializers.CharField(source="get_relationship_display")
    left_behind_display = serializers.CharField(source="get_left_behind_display")
    age = serializers.IntegerField(read_only=True)

    class Meta:
        model = CaseMember
        fields = [
            "id",
            "name",
            "relationship",
            "relationship_display",
            "id_masked",
            "age",
            "disability",
            "serious_illness",
            "elderly_alone",
            "left_behind",
            "left_behind_display",
        ]


class CaseSerializer(serializers.ModelSerializer):
    """A household as lists show it: masked ID of the head, masked phone."""

    status = _enum("CaseStatusEnum", Case.Status.choices, read_only=True)
    head_id_masked = serializers.SerializerMethodField()
    community_name = serializers.CharField(source="community.name")
    street_name = serializers.CharField(source="street.name")
    category_display = serializers.CharField(source="get_category_display")
    channel_display = serializers.CharField(source="get_channel_display")
    status_display = serializers.CharField(source="get_status_display")
    candidate_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "head_name",
            "head_id_masked",
            "community",
            "community_name",
            "street",
            "street_name",
            "phone_masked",
            "category",
            "category_display",
            "household_size",
            "channel",
            "channel_display",
            "status",
            "status_display",
            "verify_deadline",
            "candidate_overdue",
            "created_at",
        ]

    def get_head_id_masked(self, obj) -> str | None:
        heads = getattr(obj, "heads", None)
        if heads is None:
            heads = list(obj.members.filter(relationship=CaseMember.Relationship.HEAD))
        return heads[0].id_masked if heads else None


class ConsentSerializer(serializers.ModelSerializer):
    kind = _enum("ConsentKindEnum", Consent.Kind.choices, read_only=True)
    kind_display = serializers.CharField(source="get_kind_display")
    member_name = serializers.CharField(source="member.name", default=None)
    has_letter = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = [
            "id",
            "kind",
            "kind_display",
            "member_name",
            "given_by_name",
            "given_at",
            "has_letter",
        ]

    def get_has_letter(self, obj) -> bool:
        return bool(obj.letter)


class NeedBriefSerializer(serializers.ModelSerializer):
    kind = need_kind_field(read_only=True)
    status = need_status_field(read_only=True)
    kind_display = serializers.CharField(source="get_kind_display")
    service_type_name = serializers.CharField(source="service_type.name")
    urgency_display = serializers.CharField(source="get_urgency_display")
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = Need
        fields = [
            "id",
            "kind",
            "kind_display",
            "service_type_name",
            "urgency",
            "urgency_display",
            "status",
            "status_display",
            "created_at",
        ]


class CaseReferralBriefSerializer(serializers.ModelSerializer):
    status = _enum("ReferralStatusEnum", Referral.Status.choices, read_only=True)
    department_name = serializers.CharField(source="department.name")
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = Referral
        fields = [
            "id",
            "department",
            "department_name",
            "reason",
            "status",
            "status_display",
            "outcome",
            "sent_at",
            "due_at",
        ]


class CaseWarningBriefSerializer(serializers.ModelSerializer):
    status = _enum("WarningStatusEnum", Warning.Status.choices, read_only=True)
    rule_display = serializers.CharField(source="get_rule_display")
    status_display = serializers.CharField(source="get_status_display")
    member_name = serializers.CharField(source="member.name", default=None)

    class Meta:
        model = Warning
        fields = [
            "id",
            "rule",
            "rule_display",
            "detail",
            "member_name",
            "status",
            "status_display",
            "created_at",
            "note",
        ]


class CaseDetailSerializer(CaseSerializer):
    """One household for its staff: members (masked), consents, needs, referrals, warnings,
    and whether the reader may ask for a full value."""

    referred_by_name = serializers.CharField(source="referred_by.name", default=None)
    members = serializers.SerializerMethodField()
    consents = serializers.SerializerMethodField()
    needs = serializers.SerializerMethodField()
    referrals = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    may_reveal = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "address",
            "income_per_capita",
            "assets_within_rules",
            "medical_expense_year",
            "situation",
            "verified_at",
            "verify_note",
            "referred_by_name",
            "members",
            "consents",
            "needs",
            "referrals",
            "warnings",
            "may_reveal",
        ]

    @extend_schema_field(CaseMemberSerializer(many=True))
    def get_members(self, obj):
        return CaseMemberSerializer(case_member_list(case=obj), many=True).data

    @extend_schema_field(ConsentSerializer(many=True))
    def get_consents(self, obj):
        return ConsentSerializer(obj.consents.select_related("member"), many=True).data

    @extend_schema_field(NeedBriefSerializer(many=True))
    def get_needs(self, obj):
        return NeedBriefSerializer(obj.needs.select_related("service_type"), many=True).data

    @extend_schema_field(CaseReferralBriefSerializer(many=True))
    def get_referrals(self, obj):
        referrals = obj.referrals.select_related("department")
        return CaseReferralBriefSerializer(referrals, many=True).data

    @extend_schema_field(CaseWarningBriefSerializer(many=True))
    def get_warnings(self, obj):
        return CaseWarningBriefSerializer(obj.warnings.select_related("member"), many=True).data

    def get_may_reveal(self, obj) -> bool:
        return case_may_reveal(case=obj, user=self.context["request"].user)


class NeedTransitionRecordSerializer(serializers.ModelSerializer):
    # Blank for the first record (the need was created).
    from_status = serializers.CharField(read_only=True)
    to_status = need_status_field(read_only=True)
    to_status_display = serializers.CharField(source="get_to_status_display")

    class Meta:
        model = NeedTransition
        fields = ["from_status", "to_status", "to_status_display", "reason", "at"]


class NeedSerializer(serializers.ModelSerializer):
    """A need as case staff see it."""

    kind = need_kind_field(read_only=True)
    status = need_status_field(read_only=True)
    case_label = serializers.CharField(source="case.__str__")
    kind_display = serializers.CharField(source="get_kind_display")
    service_type_name = serializers.CharField(source="service_type.name")
    urgency_display = serializers.CharField(source="get_urgency_display")
    community_name = serializers.CharField(source="community.name")
    street_name = serializers.CharField(source="street.name")
    status_display = serializers.CharField(source="get_status_display")
    channel_display = serializers.CharField(source="get_channel_display")
    overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Need
        fields = [
            "id",
            "case",
            "case_label",
            "kind",
            "kind_display",
            "service_type",
            "service_type_name",
            "amount",
            "quantity",
            "urgency",
            "urgency_display",
            "community",
            "community_name",
            "street",
            "street_name",
            "window_start",
            "window_end",
            "team",
            "public_description",
            "status",
            "status_display",
            "status_reason",
            "channel",
            "channel_display",
            "submitted_at",
            "response_deadline",
            "escalation_level",
            "overdue",
            "created_at",
        ]


class NeedDetailSerializer(NeedSerializer):
    transitions = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(NeedSerializer.Meta):
        fields = [*NeedSerializer.Meta.fields, "transitions", "allowed_transitions"]

    @extend_schema_field(NeedTransitionRecordSerializer(many=True))
    def get_transitions(self, obj):
        return NeedTransitionRecordSerializer(obj.transitions.all(), many=True).data

    def get_allowed_transitions(self, obj) -> list[str]:
        """The steps this reader may take now, by the same rule the service enforces."""
        return need_transitions_allowed(need=obj, user=self.context["request"].user)


class ApplicationSerializer(serializers.ModelSerializer):
    """An applicant's own application: what was asked, where it stands, how it got there."""

    kind = need_kind_field(read_only=True)
    status = need_status_field(read_only=True)
    kind_display = serializers.CharField(source="get_kind_display")
    service_type_name = serializers.CharField(source="service_type.name")
    urgency_display = serializers.CharField(source="get_urgency_display")
    community_name = serializers.CharField(source="community.name")
    status_display = serializers.CharField(source="get_status_display")
    transitions = NeedTransitionRecordSerializer(many=True, read_only=True)
    cancellable = serializers.SerializerMethodField()

    class Meta:
        model = Need
        fields = [
            "id",
            "kind",
            "kind_display",
            "service_type_name",
            "amount",
            "urgency",
            "urgency_display",
            "community_name",
            "status",
            "status_display",
            "status_reason",
            "submitted_at",
            "created_at",
            "transitions",
            "cancellable",
        ]

    def get_cancellable(self, obj) -> bool:
        return obj.status in {Need.Status.DRAFT, Need.Status.SUBMITTED}


class OpenNeedSerializer(serializers.ModelSerializer):
    """An open need as providers see it: only `Need.PUBLIC_FIELDS`, nothing of the household."""

    kind = need_kind_field(read_only=True)
    status = need_status_field(read_only=True)
    kind_display = serializers.CharField(source="get_kind_display")
    service_type_name = serializers.CharField(source="service_type.name")
    service_type_code = serializers.CharField(source="service_type.code")
    urgency_display = serializers.CharField(source="get_urgency_display")
    community_name = serializers.CharField(source="community.name")
    street_name = serializers.CharField(source="street.name")

    class Meta:
        model = Need
        fields = [
            "id",
            "kind",
            "kind_display",
            "service_type_name",
            "service_type_code",
            "amount",
            "quantity",
            "urgency",
            "urgency_display",
            "community_name",
            "street_name",
            "window_start",
            "window_end",
            "team",
            "public_description",
            "status",
            "response_deadline",
            "created_at",
        ]


class ReferralSerializer(serializers.ModelSerializer):
    status = _enum("ReferralStatusEnum", Referral.Status.choices, read_only=True)
    case_label = serializers.CharField(source="case.__str__")
    community_name = serializers.CharField(source="case.community.name")
    department_name = serializers.CharField(source="department.name")
    status_display = serializers.CharField(source="get_status_display")
    sent_by_name = serializers.CharField(source="sent_by.__str__")
    overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id",
            "case",
            "case_label",
            "community_name",
            "department",
            "department_name",
            "reason",
            "status",
            "status_display",
            "outcome",
            "sent_by_name",
            "sent_at",
            "due_at",
            "accepted_at",
            "closed_at",
            "overdue",
        ]


class WarningSerializer(serializers.ModelSerializer):
    status = _enum("WarningStatusEnum", Warning.Status.choices, read_only=True)
    case_label = serializers.CharField(source="case.__str__")
    community_name = serializers.CharField(source="case.community.name")
    member_name = serializers.CharField(source="member.name", default=None)
    rule_display = serializers.CharField(source="get_rule_display")
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = Warning
        fields = [
            "id",
            "case",
            "case_label",
            "community_name",
            "member_name",
            "rule",
            "rule_display",
            "detail",
            "status",
            "status_display",
            "created_at",
            "verified_at",
            "note",
        ]


class IntakeResultSerializer(serializers.Serializer):
    """What an intake did. `case` is null when the household is on file outside the caller's
    scope: the caller learns it is linked, not who it is."""

    linked = serializers.BooleanField()
    detail = serializers.CharField()
    case = CaseSerializer(allow_null=True)
    need = NeedBriefSerializer(allow_null=True)


class ApplicationResultSerializer(serializers.Serializer):
    linked = serializers.BooleanField()
    detail = serializers.CharField()
    application = ApplicationSerializer()


class RevealResultSerializer(serializers.Serializer):
    value = serializers.CharField()


# Input serializers: shape only; the services validate the substance ----------------------


class MemberInputSerializer(serializers.Serializer):
    name = serializers.CharField(label=_("姓名"), max_length=32)
    # Checked by the service (GB 11643-1999); spaces are allowed and removed there.
    id_number = serializers.CharField(label=_("身份证号码"), max_length=24)
    relationship = serializers.ChoiceField(
        label=_("与户主关系"), choices=CaseMember.Relationship.choices
    )
    disability = serializers.BooleanField(label=_("残疾"), default=False)
    serious_illness = serializers.BooleanField(label=_("重病"), default=False)
    elderly_alone = serializers.BooleanField(label=_("独居老人"), default=False)
    left_behind = serializers.ChoiceField(
        label=_("三留守"), choices=CaseMember.LeftBehind.choices, default="", allow_blank=True
    )


class NeedInputSerializer(serializers.Serializer):
    kind = need_kind_field(label=_("需求类型"))
    service_type = serializers.PrimaryKeyRelatedField(
        label=_("服务类型"), queryset=ServiceType.objects.all()
    )
    amount = serializers.DecimalField(
        label=_("金额（元）"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000"),
        required=False,
        allow_null=True,
    )
    quantity = serializers.IntegerField(
        label=_("数量"), min_value=1, max_value=100000, required=False, allow_null=True
    )
    urgency = serializers.ChoiceField(
        label=_("紧急程度"), choices=Need.Urgency.choices, default=Need.Urgency.NORMAL
    )
    window_start = serializers.DateField(label=_("开始日期"))
    window_end = serializers.DateField(label=_("结束日期"))
    team = serializers.DictField(
        label=_("所需团队"),
        child=serializers.IntegerField(min_value=1, max_value=50),
        default=dict,
        help_text=_('角色 → 人数，例如 {"social_worker": 1, "volunteer": 2}。'),
    )
    public_description = serializers.CharField(
        label=_("公开描述（已脱敏）"), max_length=500, default="", allow_blank=True
    )

    @staticmethod
    def need_input(data) -> NeedInput:
        return NeedInput(**data)


class NeedCreateSerializer(NeedInputSerializer):
    submit = serializers.BooleanField(label=_("立即提交街道审核"), default=True)
    submission_key = serializers.UUIDField(required=False, allow_null=True)


class CaseRegisterSerializer(serializers.Serializer):
    """The street window (一门受理): the household, its members, consents and its need."""

    community = serializers.PrimaryKeyRelatedField(
        label=_("所在社区"), queryset=Area.objects.filter(level=Area.Level.COMMUNITY)
    )
    members = serializers.ListField(
        label=_("家庭成员"), child=MemberInputSerializer(), min_length=1, max_length=30
    )
    phone = serializers.CharField(label=_("联系电话"), max_length=20, default="", allow_blank=True)
    address = serializers.CharField(label=_("住址"), max_length=200, default="", allow_blank=True)
    category = serializers.ChoiceField(
        label=_("救助类别"), choices=Category.choices, default="", allow_blank=True
    )
    income_per_capita = serializers.DecimalField(
        label=_("家庭人均月收入（元）"),
        max_digits=9,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=INCOME_CEILING,
        required=False,
        allow_null=True,
    )
    assets_within_rules = serializers.BooleanField(label=_("家庭财产状况符合规定"), default=True)
    medical_expense_year = serializers.DecimalField(
        label=_("近12个月自付医疗费用（元）"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("10000000"),
        default=Decimal("0"),
    )
    situation = serializers.CharField(
        label=_("困难情况（内部）"), max_length=2000, default="", allow_blank=True
    )
    guardian_name = serializers.CharField(
        label=_("监护人姓名"), max_length=32, default="", allow_blank=True
    )
    # Required; a blank one gets the service's message, which says what is missing.
    sensitive_consent_by = serializers.CharField(
        label=_("同意处理敏感个人信息的人"), max_length=32, allow_blank=True
    )
    need = NeedInputSerializer(label=_("需求"), required=False, allow_null=True)
    submission_key = serializers.UUIDField(required=False, allow_null=True)

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        data["members"] = [MemberInput(**m) for m in data["members"]]
        data["need"] = NeedInputSerializer.need_input(data["need"]) if data.get("need") else None
        return data


class DiscoverySerializer(serializers.Serializer):
    community = serializers.PrimaryKeyRelatedField(
        label=_("所在社区"), queryset=Area.objects.filter(level=Area.Level.COMMUNITY)
    )
    head_name = serializers.CharField(label=_("户主姓名"), max_length=32)
    id_number = serializers.CharField(label=_("户主身份证号码"), max_length=24)
    phone = serializers.CharField(label=_("联系电话"), max_length=20, default="", allow_blank=True)
    address = serializers.CharField(label=_("住址"), max_length=200, default="", allow_blank=True)
    situation = serializers.CharField(
        label=_("发现的困难情况"), max_length=2000, default="", allow_blank=True
    )
    submission_key = serializers.UUIDField(required=False, allow_null=True)


class ApplySerializer(serializers.Serializer):
    """Online application (掌上办, 一证一书); `letter` comes as a multipart file."""

    id_number = serializers.CharField(label=_("申请人身份证号码"), max_length=24)
    phone = serializers.CharField(label=_("联系电话"), max_length=20)
    community = serializers.PrimaryKeyRelatedField(
        label=_("居住社区"), queryset=Area.objects.filter(level=Area.Level.COMMUNITY)
    )
    kind = need_kind_field(label=_("申请类型"))
    service_type = serializers.PrimaryKeyRelatedField(
        label=_("服务类型"), queryset=ServiceType.objects.all()
    )
    amount = serializers.DecimalField(
        label=_("申请金额（元）"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000"),
        required=False,
        allow_null=True,
    )
    urgency = serializers.ChoiceField(
        label=_("紧急程度"), choices=Need.Urgency.choices, default=Need.Urgency.NORMAL
    )
    difficulty = serializers.CharField(
        label=_("遇到的困难"), max_length=2000, default="", allow_blank=True
    )
    finance_check_consent = serializers.BooleanField(
        label=_("本人授权核对家庭经济状况（一证一书）"), default=False
    )
    letter = serializers.FileField(
        label=_("授权书扫描件"), required=False, allow_null=True, use_url=False
    )
    submission_key = serializers.UUIDField(required=False, allow_null=True)


class VerifyInputSerializer(serializers.Serializer):
    confirmed = serializers.BooleanField(label=_("核实属实"))
    note = serializers.CharField(label=_("核实情况"), max_length=300, default="", allow_blank=True)


class RevealInputSerializer(serializers.Serializer):
    field = serializers.ChoiceField(label=_("字段"), choices=SensitiveAccess.Field.choices)
    member = serializers.IntegerField(label=_("家庭成员"), required=False, allow_null=True)
    reason = serializers.CharField(
        label=_("查看事由"), max_length=200, default="", allow_blank=True
    )


class TransitionInputSerializer(serializers.Serializer):
    to = need_status_field(
        label=_("新状态"),
        error_messages={"invalid_choice": _("未知的需求状态。")},
    )
    reason = serializers.CharField(label=_("原因"), max_length=200, default="", allow_blank=True)
    # Absent means "leave the public description as it is".
    public_description = serializers.CharField(
        label=_("公开描述（已脱敏）"), max_length=500, required=False, allow_blank=True
    )


class ReferralInputSerializer(serializers.Serializer):
    department = serializers.PrimaryKeyRelatedField(
        label=_("接收部门"), queryset=Organisation.objects.filter(kind=Organisation.Kind.DEPARTMENT)
    )
    reason = serializers.CharField(
        label=_("转介事由"), max_length=500, default="", allow_blank=True
    )


class ReferralCompleteSerializer(serializers.Serializer):
    outcome = serializers.CharField(
        label=_("办理结果"), max_length=300, default="", allow_blank=True
    )


class ReferralReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(
        label=_("退回原因"), max_length=300, default="", allow_blank=True
    )


def _validated(serializer_class, request):
    """The bound input serializer; a 400 with the field errors when the shape is wrong."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer


# Viewsets --------------------------------------------------------------------------------


def _head_prefetch() -> Prefetch:
    """Each case's head loaded with the page, for the masked ID in lists."""
    return Prefetch(
        "members",
        queryset=CaseMember.objects.filter(relationship=CaseMember.Relationship.HEAD),
        to_attr="heads",
    )


def _intake_response(request, result: IntakeResult, *, linked_message, new_message):
    """201 with the new case; 200 with `linked: true` when the household was on file. A
    household on file outside the caller's scope is not shown to them."""
    visible = case_list_for_user(user=request.user).filter(pk=result.case.pk).exists()
    detail = (
        linked_message % {"community": result.case.community.name} if result.linked else new_message
    )
    data = IntakeResultSerializer(
        {
            "linked": result.linked,
            "detail": detail,
            "case": result.case if visible else None,
            "need": result.need if visible else None,
        },
        context={"request": request},
    ).data
    return Response(data, status=status.HTTP_200_OK if result.linked else status.HTTP_201_CREATED)


class CaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Households on file in the caller's scope (an applicant: their own). Registration at
    the street window, discovery on a visit, verification, needs, referrals, and the audited
    full view of one ID number or phone."""

    serializer_class = CaseSerializer
    filterset_class = CaseFilter

    def get_permissions(self):
        if self.action == "create":
            message = _("只有社区、街道、民政或部门工作人员可以登记。")
            return [role_required(REGISTER_ROLES, message)()]
        return super().get_permissions()

    def get_queryset(self):
        return case_list_for_user(user=self.request.user).prefetch_related(_head_prefetch())

    def get_object(self):
        return case_get_for_user(case_id=self.kwargs["pk"], user=self.request.user)

    @extend_schema(responses=CaseDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        # Case staff see the whole file; an applicant sees the summary of their own.
        serializer_class = CaseDetailSerializer if _is_case_staff(request.user) else CaseSerializer
        return Response(serializer_class(case, context=self.get_serializer_context()).data)

    @extend_schema(
        request=CaseRegisterSerializer,
        responses={201: IntakeResultSerializer, 200: IntakeResultSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = _validated(CaseRegisterSerializer, request)
        result = case_register(created_by=request.user, **serializer.service_kwargs())
        return _intake_response(
            request,
            result,
            linked_message=_t("该家庭已在册（%(community)s），需求已并入原档案，未重复建档。"),
            new_message=_t("已登记，需求已提交街道审核。") if result.need else _t("已登记。"),
        )

    @extend_schema(
        request=DiscoverySerializer,
        responses={201: IntakeResultSerializer, 200: IntakeResultSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[
            role_required(INTAKE_ROLES, _("只有社区、街道或民政工作人员可以上报。"))
        ],
    )
    def discover(self, request):
        """Report a household found in need on a visit (主动发现)."""
        data = _validated(DiscoverySerializer, request).validated_data
        result = case_report_discovery(reported_by=request.user, **data)
        return _intake_response(
            request,
            result,
            linked_message=_t("该家庭已在册（%(community)s），无需重复上报。"),
            new_message=_t("已上报，请在%(days)s日内入户核实。")
            % {"days": settings.DISCOVERY_VERIFY_DAYS},
        )

    @extend_schema(request=VerifyInputSerializer, responses=CaseDetailSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[role_required(INTAKE_ROLES, _("您的角色不能核实困难家庭。"))],
    )
    def verify(self, request, pk=None):
        """Record what the visit to a discovered household found."""
        case = self.get_object()
        data = _validated(VerifyInputSerializer, request).validated_data
        case = case_candidate_verify(
            case=case, by=request.user, confirmed=data["confirmed"], note=data["note"]
        )
        return Response(CaseDetailSerializer(case, context=self.get_serializer_context()).data)

    @extend_schema(request=RevealInputSerializer, responses=RevealResultSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[role_required(REVEAL_ROLES, _("您的角色不能查看完整的敏感信息。"))],
    )
    def reveal(self, request, pk=None):
        """One full ID number (`member` required) or the phone, on this response only; each
        success writes one audit row. Not cached."""
        case = self.get_object()
        data = _validated(RevealInputSerializer, request).validated_data
        member = None
        if data["field"] == SensitiveAccess.Field.ID_NUMBER and data.get("member") is not None:
            member = case_member_list(case=case).filter(pk=data["member"]).first()
        value = sensitive_reveal(
            case=case, by=request.user, field=data["field"], reason=data["reason"], member=member
        )
        response = Response(RevealResultSerializer({"value": value}).data)
        add_never_cache_headers(response)
        return response

    @extend_schema(request=NeedCreateSerializer, responses={201: NeedDetailSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="needs",
        permission_classes=[
            role_required(INTAKE_ROLES, _("只有社区、街道或民政工作人员可以登记需求。"))
        ],
    )
    def needs(self, request, pk=None):
        """Add a need to a household on file; submitted at once unless `submit` is false."""
        case = self.get_object()
        data = dict(_validated(NeedCreateSerializer, request).validated_data)
        submit, key = data.pop("submit"), data.pop("submission_key", None)
        need = need_create(
            case=case,
            created_by=request.user,
            spec=NeedInputSerializer.need_input(data),
            submit=submit,
            submission_key=key,
        )
        need = need_get_for_user(need_id=need.pk, user=request.user)
        return Response(
            NeedDetailSerializer(need, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ReferralInputSerializer, responses={201: ReferralSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="referrals",
        permission_classes=[
            role_required(INTAKE_ROLES, _("只有社区、街道或民政工作人员可以转介。"))
        ],
    )
    def referrals(self, request, pk=None):
        """Refer the household to a department (转介)."""
        case = self.get_object()
        data = _validated(ReferralInputSerializer, request).validated_data
        referral = referral_send(case=case, by=request.user, **data)
        return Response(ReferralSerializer(referral).data, status=status.HTTP_201_CREATED)


class NeedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Needs of the households in the caller's scope (case staff only), and the lifecycle
    step: staff move needs along it, an applicant may withdraw their own."""

    serializer_class = NeedSerializer
    filterset_class = NeedFilter

    def get_queryset(self):
        needs = need_list_for_user(user=self.request.user)
        return needs if _is_case_staff(self.request.user) else needs.none()

    def get_object(self):
        if not _is_case_staff(self.request.user):
            raise Http404
        return need_get_for_user(need_id=self.kwargs["pk"], user=self.request.user)

    @extend_schema(responses=NeedDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        need = self.get_object()
        return Response(NeedDetailSerializer(need, context=self.get_serializer_context()).data)

    @extend_schema(request=TransitionInputSerializer, responses=NeedDetailSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move a need one step (reason required to reject or cancel; the street may set the
        public description when confirming or opening). 409 for a step the status does not
        allow."""
        need = need_get_for_user(need_id=pk, user=request.user)
        data = _validated(TransitionInputSerializer, request).validated_data
        need_transition(
            need=need,
            to=data["to"],
            by=request.user,
            reason=data["reason"],
            public_description=data.get("public_description"),
        )
        need = need_get_for_user(need_id=pk, user=request.user)
        return Response(NeedDetailSerializer(need, context=self.get_serializer_context()).data)


class ApplicationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Online applications (掌上办): an applicant applies and follows their own."""

    serializer_class = ApplicationSerializer
    permission_classes = [role_required({Role.APPLICANT}, _("请使用申请人账号在线申请。"))]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Need.objects.none()
        user = self.request.user
        return (
            need_list_for_user(user=user)
            .filter(case__applicant=user)
            .prefetch_related("transitions")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(request=ApplySerializer, responses={201: ApplicationResultSerializer})
    def create(self, request, *args, **kwargs):
        data = _validated(ApplySerializer, request).validated_data
        result = case_apply_online(applicant=request.user, **data)
        need = self.get_queryset().get(pk=result.need.pk)
        detail = (
            _t("您的家庭已在册（%(community)s），本次申请已并入原档案，无需重复提交材料。")
            % {"community": result.case.community.name}
            if result.linked
            else _t("申请已提交，社区和街道将尽快审核。")
        )
        payload = {"linked": result.linked, "detail": detail, "application": need}
        return Response(ApplicationResultSerializer(payload).data, status=status.HTTP_201_CREATED)


class OpenNeedViewSet(viewsets.ReadOnlyModelViewSet):
    """Open needs as providers see them: de-identified, nothing of the household behind."""

    serializer_class = OpenNeedSerializer
    filterset_class = PublicNeedFilter

    def get_queryset(self):
        return need_public_list()

    def get_object(self):
        return need_public_get(need_id=self.kwargs["pk"])


class ReferralViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Referrals received by the caller's department or sent from cases in scope; the
    receiving department accepts, completes or returns them."""

    serializer_class = ReferralSerializer
    filterset_class = ReferralFilter
    _department_only = [
        role_required({Role.DEPARTMENT_STAFF}, _("只有接收部门的工作人员可以办理转介。"))
    ]

    def get_queryset(self):
        return referral_list_for_user(user=self.request.user)

    def get_object(self):
        return referral_get_for_user(referral_id=self.kwargs["pk"], user=self.request.user)

    @extend_schema(request=None, responses=ReferralSerializer)
    @action(detail=True, methods=["post"], permission_classes=_department_only)
    def accept(self, request, pk=None):
        referral = referral_accept(referral=self.get_object(), by=request.user)
        return Response(ReferralSerializer(referral).data)

    @extend_schema(request=ReferralCompleteSerializer, responses=ReferralSerializer)
    @action(detail=True, methods=["post"], permission_classes=_department_only)
    def complete(self, request, pk=None):
        referral = self.get_object()
        data = _validated(ReferralCompleteSerializer, request).validated_data
        referral = referral_complete(referral=referral, by=request.user, outcome=data["outcome"])
        return Response(ReferralSerializer(referral).data)

    @extend_schema(request=ReferralReturnSerializer, responses=ReferralSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="return",
        url_name="return",
        permission_classes=_department_only,
    )
    def return_(self, request, pk=None):
        referral = self.get_object()
        data = _validated(ReferralReturnSerializer, request).validated_data
        referral = referral_return(referral=referral, by=request.user, reason=data["reason"])
        return Response(ReferralSerializer(referral).data)


class WarningViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Dynamic-monitoring warnings of households in the caller's community / street /
    district; the community records what a visit found."""

    serializer_class = WarningSerializer
    filterset_class = WarningFilter

    def get_queryset(self):
        return warning_list_for_user(user=self.request.user)

    def get_object(self):
        return warning_get_for_user(warning_id=self.kwargs["pk"], user=self.request.user)

    @extend_schema(request=VerifyInputSerializer, responses=WarningSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[role_required(INTAKE_ROLES, _("您的角色不能核实预警。"))],
    )
    def verify(self, request, pk=None):
        warning = self.get_object()
        data = _validated(VerifyInputSerializer, request).validated_data
        warning = warning_verify(
            warning=warning, by=request.user, confirmed=data["confirmed"], note=data["note"]
        )
        return Response(WarningSerializer(warning).data)
