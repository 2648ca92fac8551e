"""Filters for the lists of volunteering pages."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, Organisation
from volunteers.models import Affiliation, Skill, SocialWorker, Volunteer

# --- People -------------------------------------------------------------------------------

STAR_CHOICES = [(n, "★" * n if n else _("无星级")) for n in range(6)]


def _volunteer_organisations(request):
    return Organisation.objects.filter(kind__in=Affiliation.KINDS, verified=True).order_by("name")


class VolunteerFilter(django_filters.FilterSet):
    """The volunteer roster: name, street, skill, star level and organisation."""

    q = django_filters.CharFilter(method="filter_q", label=_("姓名"), max_length=32)
    street = django_filters.ModelChoiceFilter(
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        label=_("街道/镇/开发区"),
        empty_label=_("全部街道"),
    )
    skill = django_filters.ModelChoiceFilter(
        field_name="skills",
        queryset=Skill.objects.order_by("position", "code"),
        label=_("技能"),
        empty_label=_("全部技能"),
    )
    star_level = django_filters.ChoiceFilter(
        choices=STAR_CHOICES, label=_("星级"), empty_label=_("全部星级")
    )
    organisation = django_filters.ModelChoiceFilter(
        queryset=_volunteer_organisations,
        method="filter_organisation",
        label=_("所属组织"),
        empty_label=_("全部组织"),
    )

    class Meta:
        model = Volunteer
        fields = ["q", "street", "skill", "star_level", "organisation"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(real_name__icontains=value) if value else queryset

    def filter_organisation(self, queryset, name, value):
        # A subquery rather than a join, so a volunteer appears once whatever else matches.
        members = Affiliation.objects.filter(
            organisation=value, status=Affiliation.Status.APPROVED
        ).values("volunteer_id")
        return queryset.filter(pk__in=members)


class AffiliationFilter(django_filters.FilterSet):
    """Requests to join: by status (pending first by default) and organisation."""

    status = django_filters.ChoiceFilter(
        choices=Affiliation.Status.choices, label=_("状态"), empty_label=_("全部状态")
    )
    q = django_filters.CharFilter(method="filter_q", label=_("姓名"), max_length=32)

    class Meta:
        model = Affiliation
        fields = ["status", "q"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(volunteer__real_name__icontains=value) if value else queryset


class SocialWorkerFilter(django_filters.FilterSet):
    """The social-worker roster: name, certificate level, street and whether serving."""

    q = django_filters.CharFilter(method="filter_q", label=_("姓名"), max_length=32)
    level = django_filters.ChoiceFilter(
        choices=SocialWorker.Level.choices, label=_("职业资格等级"), empty_label=_("全部等级")
    )
    street = django_filters.ModelChoiceFilter(
        field_name="organisation__street",
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        label=_("街道/镇/开发区"),
        empty_label=_("全部街道"),
    )
    active = django_filters.BooleanFilter(label=_("在职"))

    class Meta:
        model = SocialWorker
        fields = ["q", "level", "street", "active"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(real_name__icontains=value)) if value else queryset
