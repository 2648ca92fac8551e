"""Forms of the shared domain."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import (
    Area,
    CaseMember,
    Need,
    Organisation,
    Referral,
    SensitiveAccess,
    ServiceType,
)
from marketplace.models.cases import INCOME_CEILING, Category
from marketplace.selectors import service_type_list
from marketplace.services import MemberInput, NeedInput
from marketplace.validators import normalise_resident_id, validate_phone, validate_resident_id


class OrganisationForm(forms.ModelForm):
    """Register an organisation; `areas` limits the places the acting user may choose."""

    class Meta:
        model = Organisation
        fields = [
            "name",
            "kind",
            "department",
            "area",
            "credit_code",
            "legal_representative",
            "address",
            "description",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "credit_code": _("18位，社会组织必填；系统按 GB 32100-2015 校验。"),
        }

    phone = forms.CharField(
        label=_("联系电话"),
        required=False,
        max_length=20,
        validators=[validate_phone],
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def __init__(self, *args, areas, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        self.fields["area"].empty_label = _("请选择区域")
        self.fields["kind"].choices = [("", _("请选择类型")), *Organisation.Kind.choices]

    def clean_credit_code(self):
        return (self.cleaned_data.get("credit_code") or "").strip().upper()


# --- Assistance cases -------------------------------------------------------------------

YES_NO = [("yes", _("属实")), ("no", _("不属实"))]


def _blank(choices, label):
    return [("", label), *choices]


class NeedFieldsForm(forms.Form):
    """The fields of one need, shared by the street window and the add-need page."""

    kind = forms.ChoiceField(label=_("需求类型"), choices=_blank(Need.Kind.choices, _("请选择")))
    service_type = forms.ModelChoiceField(
        label=_("服务类型"), queryset=ServiceType.objects.none(), empty_label=_("请选择")
    )
    amount = forms.DecimalField(
        label=_("金额（元）"),
        required=False,
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000"),
        help_text=_("资金需求必填。"),
    )
    quantity = forms.IntegerField(
        label=_("数量"),
        required=False,
        min_value=1,
        max_value=100000,
        help_text=_("实物需求必填。"),
    )
    urgency = forms.ChoiceField(
        label=_("紧急程度"), choices=Need.Urgency.choices, initial=Need.Urgency.NORMAL
    )
    window_start = forms.DateField(
        label=_("开始日期"), widget=forms.DateInput(attrs={"type": "date"})
    )
    window_end = forms.DateField(
        label=_("结束日期"), widget=forms.DateInput(attrs={"type": "date"})
    )
    team_social_worker = forms.IntegerField(
        label=_("所需社会工作者（人）"), required=False, min_value=0, max_value=50
    )
    team_volunteer = forms.IntegerField(
        label=_("所需志愿者（人）"), required=False, min_value=0, max_value=50
    )
    public_description = forms.CharField(
        label=_("公开描述（已脱敏）"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("服务方只能看到这段文字：不要写姓名、身份证号、电话、住址门牌。"),
    )
    submission_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service_type"].queryset = service_type_list()

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Need.Kind.FUNDS and not data.get("amount"):
            self.add_error("amount", _("资金需求须填写金额。"))
        if kind == Need.Kind.GOODS and not data.get("quantity"):
            self.add_error("quantity", _("实物需求须填写数量。"))
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and end < start:
            self.add_error("window_end", _("结束日期不能早于开始日期。"))
        return data

    def need_input(self) -> NeedInput:
        """The cleaned need as the services take it."""
        data = self.cleaned_data
        team = {
            role: data[f"team_{role}"]
            for role in ("social_worker", "volunteer")
            if data.get(f"team_{role}")
        }
        return NeedInput(
            kind=data["kind"],
            service_type=data["service_type"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            urgency=data["urgency"],
            amount=data.get("amount"),
            quantity=data.get("quantity"),
            team=team,
            public_description=data.get("public_description", ""),
        )


class NeedForm(NeedFieldsForm):
    """Add a need to a household on file."""

    submit = forms.BooleanField(
        label=_("立即提交街道审核（不勾选则保存为草稿）"), required=False, initial=True
    )


class CaseRegisterForm(NeedFieldsForm):
    """The street window (一门受理): the household and its need on one form; members come
    in `MemberFormSet`."""

    community = forms.ModelChoiceField(
        label=_("所在社区"), queryset=Area.objects.none(), empty_label=_("请选择社区")
    )
    address = forms.CharField(label=_("住址"), max_length=200, required=False)
    phone = forms.CharField(
        label=_("联系电话"), max_length=20, required=False, validators=[validate_phone]
    )
    category = forms.ChoiceField(
        label=_("救助类别"),
        required=False,
        choices=_blank(Category.choices, _("按收入自动认定")),
        help_text=_("低保、低收入按当年低保标准与人均收入核对；留空则自动认定。"),
    )
    income_per_capita = forms.DecimalField(
        label=_("家庭人均月收入（元）"),
        required=False,
        max_digits=9,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=INCOME_CEILING,
    )
    assets_within_rules = forms.BooleanField(
        label=_("家庭财产状况符合规定"), required=False, initial=True
    )
    medical_expense_year = forms.DecimalField(
        label=_("近12个月自付医疗费用（元）"),
        required=False,
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("10000000"),
    )
    situation = forms.CharField(
        label=_("困难情况（内部）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    guardian_name = forms.CharField(
        label=_("监护人姓名"),
        max_length=32,
        required=False,
        help_text=_("家庭成员中有未满14周岁的儿童时必填，视为监护人同意。"),
    )
    sensitive_consent_by = forms.CharField(
        label=_("同意处理敏感个人信息的人"),
        max_length=32,
        help_text=_("请当面告知并取得同意后填写同意人姓名。"),
    )

    field_order = [
        "community",
        "address",
        "phone",
        "category",
        "income_per_capita",
        "assets_within_rules",
        "medical_expense_year",
        "situation",
        "guardian_name",
        "sensitive_consent_by",
    ]

    HOUSEHOLD_FIELDS = field_order

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities

    def household_fields(self):
        return [self[name] for name in self.HOUSEHOLD_FIELDS]

    def need_fields(self):
        return [self[name] for name in self.fields if name not in self.HOUSEHOLD_FIELDS]


class MemberForm(forms.Form):
    """One household member."""

    name = forms.CharField(label=_("姓名"), max_length=32)
    id_number = forms.CharField(
        label=_("身份证号码"), max_length=18, validators=[validate_resident_id]
    )
    relationship = forms.ChoiceField(
        label=_("与户主关系"), choices=_blank(CaseMember.Relationship.choices, _("请选择"))
    )
    disability = forms.BooleanField(label=_("残疾"), required=False)
    serious_illness = forms.BooleanField(label=_("重病"), required=False)
    elderly_alone = forms.BooleanField(label=_("独居老人"), required=False)
    left_behind = forms.ChoiceField(
        label=_("三留守"), choices=CaseMember.LeftBehind.choices, required=False
    )

    def clean_id_number(self):
        return normalise_resident_id(self.cleaned_data["id_number"])

    def member_input(self) -> MemberInput:
        return MemberInput(**self.cleaned_data)


class _MemberBaseFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        filled = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        heads = [f for f in filled if f.cleaned_data["relationship"] == "head"]
        if len(heads) != 1:
            raise forms.ValidationError(_("家庭成员中须有且只有一位户主。"))
        numbers = [f.cleaned_data["id_number"] for f in filled]
        if len(numbers) != len(set(numbers)):
            raise forms.ValidationError(_("同一身份证号码在家庭成员中出现了两次。"))

    def member_inputs(self) -> list[MemberInput]:
        return [f.member_input() for f in self.forms if f.cleaned_data]


MemberFormSet = forms.formset_factory(
    MemberForm,
    formset=_MemberBaseFormSet,
    extra=1,
    min_num=1,
    validate_min=True,
    max_num=30,
    validate_max=True,
)


class ApplyForm(forms.Form):
    """Online application (掌上办, 一证一书)."""

    id_number = forms.CharField(
        label=_("申请人身份证号码"), max_length=18, validators=[validate_resident_id]
    )
    phone = forms.CharField(label=_("联系电话"), max_length=20, validators=[validate_phone])
    community = forms.ModelChoiceField(
        label=_("居住社区"), queryset=Area.objects.none(), empty_label=_("请选择社区")
    )
    kind = forms.ChoiceField(label=_("申请类型"), choices=_blank(Need.Kind.choices, _("请选择")))
    service_type = forms.ModelChoiceField(
        label=_("服务类型"), queryset=ServiceType.objects.none(), empty_label=_("请选择")
    )
    amount = forms.DecimalField(
        label=_("申请金额（元）"),
        required=False,
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000"),
        help_text=_("申请资金时填写。"),
    )
    urgency = forms.ChoiceField(
        label=_("紧急程度"), choices=Need.Urgency.choices, initial=Need.Urgency.NORMAL
    )
    difficulty = forms.CharField(
        label=_("遇到的困难"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    finance_check_consent = forms.BooleanField(
        label=_("本人授权核对家庭经济状况（一证一书）"),
        error_messages={"required": _("须授权核对家庭经济状况才能受理申请（一证一书）。")},
    )
    letter = forms.FileField(
        label=_("授权书扫描件（可选）"),
        required=False,
        help_text=_("PDF、JPG 或 PNG，不超过5 MB。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    submission_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities
        self.fields["service_type"].queryset = service_type_list()

    def clean_id_number(self):
        return normalise_resident_id(self.cleaned_data["id_number"])

    def clean(self):
        data = super().clean()
        if data.get("kind") == Need.Kind.FUNDS and not data.get("amount"):
            self.add_error("amount", _("申请资金须填写金额。"))
        if data.get("kind") != Need.Kind.FUNDS:
            data["amount"] = None
        return data


class DiscoveryForm(forms.Form):
    """A household found in need on a visit (主动发现)."""

    community = forms.ModelChoiceField(
        label=_("所在社区"), queryset=Area.objects.none(), empty_label=_("请选择社区")
    )
    head_name = forms.CharField(label=_("户主姓名"), max_length=32)
    id_number = forms.CharField(
        label=_("户主身份证号码"), max_length=18, validators=[validate_resident_id]
    )
    phone = forms.CharField(
        label=_("联系电话"), max_length=20, required=False, validators=[validate_phone]
    )
    address = forms.CharField(label=_("住址"), max_length=200, required=False)
    situation = forms.CharField(
        label=_("发现的困难情况"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    submission_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities

    def clean_id_number(self):
        return normalise_resident_id(self.cleaned_data["id_number"])


class VerifyForm(forms.Form):
    """What a visit found: a discovered household, or a monitoring warning."""

    confirmed = forms.ChoiceField(label=_("核实结果"), choices=YES_NO, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("核实情况"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )

    @property
    def is_confirmed(self) -> bool:
        return self.cleaned_data["confirmed"] == "yes"


class RevealForm(forms.Form):
    """Ask to see one full ID number or the phone; the reason goes into the audit row."""

    field = forms.ChoiceField(choices=SensitiveAccess.Field.choices, widget=forms.HiddenInput)
    member = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("查看事由"),
        max_length=200,
        error_messages={"required": _("请填写查看事由。")},
    )


def referral_departments():
    """Departments a case may be referred to."""
    return Organisation.objects.filter(
        kind=Organisation.Kind.DEPARTMENT, department__in=Referral.DEPARTMENTS
    ).order_by("name")


class ReferralForm(forms.Form):
    """Refer a case to a department (转介)."""

    department = forms.ModelChoiceField(
        label=_("接收部门"), queryset=Organisation.objects.none(), empty_label=_("请选择部门")
    )
    reason = forms.CharField(
        label=_("转介事由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = referral_departments()


class ReferralActionForm(forms.Form):
    outcome = forms.CharField(label=_("办理结果/退回原因"), max_length=300, required=False)


class NeedTransitionForm(forms.Form):
    """One step of a need's lifecycle."""

    to = forms.ChoiceField(choices=Need.Status.choices, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("说明"), max_length=200, required=False)
    public_description = forms.CharField(
        label=_("公开描述（已脱敏）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
