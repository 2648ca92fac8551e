"""Forms of people: volunteer sign-up and profile (with weekly availability and certificates
as small repeatable tables), the audited full view, joining organisations and deciding on
requests, and social-worker profiles."""

from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, ServiceType
from marketplace.validators import normalise_phone, normalise_resident_id, validate_phone
from volunteers.models import Availability, Skill, SocialWorker, Volunteer, VolunteerAccess
from volunteers.selectors.people import community_choices
from volunteers.services.people import AvailabilityInput, CertificateInput

MAX_AVAILABILITY_ROWS = 21
MAX_CERTIFICATE_ROWS = 20


def _skills_field() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label=_("技能"),
        queryset=Skill.objects.order_by("position", "code"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class _CommunityMixin:
    """A select of communities grouped by street; cleans to the Area."""

    def _setup_community(self) -> None:
        self.fields["home_community"] = forms.ChoiceField(
            label=_("所在社区"),
            choices=[("", _("请选择社区")), *community_choices()],
            error_messages={"required": _("请选择所在社区。")},
        )

    def clean_home_community(self):
        value = self.cleaned_data["home_community"]
        area = Area.objects.filter(pk=value, level=Area.Level.COMMUNITY).first()
        if area is None:
            raise forms.ValidationError(_("请选择社区或村。"))
        return area


class AccountForm(forms.Form):
    """The account part of a visitor's sign-up."""

    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("登录时使用；字母、数字或 @/./+/-/_。"),
    )
    email = forms.EmailField(label=_("电子邮箱"), required=False)
    password = forms.CharField(
        label=_("密码"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    password_again = forms.CharField(
        label=_("再次输入密码"), strip=False, widget=forms.PasswordInput(render_value=False)
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("两次输入的密码不一致。"))
        return data


class VolunteerRegisterForm(_CommunityMixin, forms.Form):
    """Who the volunteer is and what they offer."""

    real_name = forms.CharField(label=_("真实姓名"), max_length=32)
    id_number = forms.CharField(
        label=_("身份证号码"),
        max_length=20,
        help_text=_("仅用于实名认证，加密保存，页面只显示部分号码。须年满16周岁。"),
    )
    phone = forms.CharField(label=_("手机号码"), max_length=20, validators=[validate_phone])
    home_community = forms.ChoiceField()  # replaced in __init__
    skills = forms.Field()  # replaced in __init__
    max_concurrent = forms.IntegerField(
        label=_("同时承担任务数"),
        min_value=1,
        max_value=10,
        initial=2,
        help_text=_("同一时间最多参加几项活动或团队任务。"),
    )
    introduction = forms.CharField(
        label=_("个人简介"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    field_order = [
        "real_name",
        "id_number",
        "phone",
        "home_community",
        "skills",
        "max_concurrent",
        "introduction",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_community()
        self.fields["skills"] = _skills_field()
        self.order_fields(self.field_order)

    def clean_id_number(self):
        return normalise_resident_id(self.cleaned_data["id_number"])

    def clean_phone(self):
        return normalise_phone(self.cleaned_data["phone"])


class VolunteerProfileForm(_CommunityMixin, forms.Form):
    """What a volunteer may change about themselves."""

    home_community = forms.ChoiceField()  # replaced in __init__
    skills = forms.Field()  # replaced in __init__
    max_concurrent = forms.IntegerField(
        label=_("同时承担任务数"), min_value=1, max_value=10, initial=2
    )
    introduction = forms.CharField(
        label=_("个人简介"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, volunteer: Volunteer | None = None, **kwargs):
        if volunteer is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "home_community": volunteer.home_community_id,
                "skills": [s.pk for s in volunteer.skills.all()],
                "max_concurrent": volunteer.max_concurrent,
                "introduction": volunteer.introduction,
            }
        super().__init__(*args, **kwargs)
        self._setup_community()
        self.fields["skills"] = _skills_field()
        self.order_fields(["home_community", "skills", "max_concurrent", "introduction"])


class AvailabilityForm(forms.Form):
    """One weekly free window."""

    weekday = forms.TypedChoiceField(
        label=_("星期"), coerce=int, choices=[("", _("请选择")), *Availability.Weekday.choices]
    )
    start = forms.TimeField(
        label=_("开始"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end = forms.TimeField(
        label=_("结束"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("结束时间应晚于开始时间。"))
        return data


class CertificateForm(forms.Form):
    """One certificate."""

    name = forms.CharField(label=_("证书名称"), max_length=64)
    issuer = forms.CharField(label=_("发证机构"), max_length=64, required=False)
    number = forms.CharField(label=_("证书编号"), max_length=64, required=False)
    skill = forms.ModelChoiceField(
        label=_("对应技能"),
        queryset=Skill.objects.order_by("position", "code"),
        required=False,
        empty_label=_("无"),
    )
    valid_until = forms.DateField(
        label=_("有效期至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class _RowsFormSet(forms.BaseFormSet):
    """Rows left blank or ticked for removal are skipped."""

    def kept(self) -> list[dict]:
        return [
            f.cleaned_data for f in self.forms if f.cleaned_data and not self._should_delete_form(f)
        ]


class AvailabilityFormSet(_RowsFormSet):
    def inputs(self) -> list[AvailabilityInput]:
        return [AvailabilityInput(d["weekday"], d["start"], d["end"]) for d in self.kept()]


class CertificateFormSet(_RowsFormSet):
    def inputs(self) -> list[CertificateInput]:
        return [
            CertificateInput(
                name=d["name"],
                issuer=d.get("issuer", ""),
                number=d.get("number", ""),
                skill=d.get("skill"),
                valid_until=d.get("valid_until"),
            )
            for d in self.kept()
        ]


AvailabilityFormSetFactory = forms.formset_factory(
    AvailabilityForm,
    formset=AvailabilityFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_AVAILABILITY_ROWS,
    validate_max=True,
)
CertificateFormSetFactory = forms.formset_factory(
    CertificateForm,
    formset=CertificateFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_CERTIFICATE_ROWS,
    validate_max=True,
)


def availability_formset(data=None, *, volunteer: Volunteer | None = None):
    """The weekly availability table, prefilled from the volunteer's windows."""
    initial = None
    if volunteer is not None:
        initial = [
            {"weekday": a.weekday, "start": a.start, "end": a.end}
            for a in volunteer.availabilities.all()
        ]
    return AvailabilityFormSetFactory(data, initial=initial, prefix="avail")


def certificate_formset(data=None, *, volunteer: Volunteer | None = None):
    """The certificates table, prefilled from the volunteer's certificates."""
    initial = None
    if volunteer is not None:
        initial = [
            {
                "name": c.name,
                "issuer": c.issuer,
                "number": c.number,
                "skill": c.skill_id,
                "valid_until": c.valid_until,
            }
            for c in volunteer.certificates.all()
        ]
    return CertificateFormSetFactory(data, initial=initial, prefix="cert")


class VolunteerRevealForm(forms.Form):
    """Ask to see a volunteer's full ID number or phone; the reason goes into the audit row."""

    field = forms.ChoiceField(choices=VolunteerAccess.Field.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("查看事由"), max_length=200, error_messages={"required": _("请填写查看事由。")}
    )


class JoinForm(forms.Form):
    """A volunteer's request to join an organisation."""

    message = forms.CharField(label=_("申请说明"), max_length=200, required=False)


class AffiliationDecisionForm(forms.Form):
    """Approve or reject a request to join."""

    decision = forms.ChoiceField(
        label=_("审核结果"), choices=[("approve", _("同意加入")), ("reject", _("不同意"))]
    )
    note = forms.CharField(label=_("审核意见"), max_length=200, required=False)


class SocialWorkerForm(forms.Form):
    """A social worker's profile. `organisations` are the agencies / 社工站 the acting user
    may choose; `candidates`, when given, adds the person being registered."""

    organisation = forms.ModelChoiceField(
        label=_("所属机构"), queryset=None, empty_label=_("请选择机构")
    )
    real_name = forms.CharField(label=_("姓名"), max_length=32)
    level = forms.ChoiceField(label=_("职业资格等级"), choices=SocialWorker.Level.choices)
    certificate_number = forms.CharField(
        label=_("证书编号"),
        max_length=64,
        required=False,
        help_text=_("持有助理社会工作师及以上证书的须填写。"),
    )
    specialties = forms.ModelMultipleChoiceField(
        label=_("专长领域"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    max_concurrent = forms.IntegerField(
        label=_("同时带领团队数"), min_value=1, max_value=20, initial=3
    )

    def __init__(self, *args, organisations, candidates=None, worker=None, **kwargs):
        if worker is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "organisation": worker.organisation_id,
                "real_name": worker.real_name,
                "level": worker.level,
                "certificate_number": worker.certificate_number,
                "specialties": [s.pk for s in worker.specialties.all()],
                "max_concurrent": worker.max_concurrent,
            }
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        self.fields["specialties"].queryset = ServiceType.objects.order_by("position")
        if candidates is not None:
            self.fields["user"] = forms.ModelChoiceField(
                label=_("社会工作者账号"), queryset=candidates, empty_label=_("请选择")
            )
            self.order_fields(["user"])
