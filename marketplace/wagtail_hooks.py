"""Reference data that civil affairs keeps as data, not code, edited in the Wagtail admin:
the 低保 standard per year and area, the service types, and the monitoring thresholds."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup
from wagtail.permission_policies.base import BasePermissionPolicy

from marketplace.models import AssistanceStandard, MonitoringRule, Role, ServiceType, User
from marketplace.selectors import user_scope


class CivilAffairsPolicy(BasePermissionPolicy):
    """District civil affairs (and superusers) may add, change and delete; nobody else."""

    def _allowed(self, user) -> bool:
        if not (user.is_authenticated and user.is_active):
            return False
        return user.is_superuser or user_scope(user=user).has(Role.CIVIL_AFFAIRS_OFFICIAL)

    def user_has_permission(self, user, action):
        return self._allowed(user)

    def user_has_any_permission(self, user, actions):
        return self._allowed(user)

    def users_with_any_permission(self, actions):
        return User.objects.filter(is_active=True, memberships__role=Role.CIVIL_AFFAIRS_OFFICIAL)

    def users_with_permission(self, action):
        return self.users_with_any_permission([action])


class _ReferenceViewSet(ModelViewSet):
    add_to_admin_menu = False

    @property
    def permission_policy(self):
        return CivilAffairsPolicy(self.model)


class AssistanceStandardViewSet(_ReferenceViewSet):
    model = AssistanceStandard
    icon = "table"
    menu_label = _("低保标准")
    form_fields = ["year", "area", "dibao_monthly"]
    list_display = ["year", "area", "dibao_monthly"]


class ServiceTypeViewSet(_ReferenceViewSet):
    model = ServiceType
    icon = "tag"
    menu_label = _("服务类型")
    form_fields = ["code", "name", "description", "position"]
    list_display = ["name", "code", "position"]


class MonitoringRuleViewSet(_ReferenceViewSet):
    model = MonitoringRule
    icon = "warning"
    menu_label = _("监测规则")
    form_fields = ["code", "params", "active"]
    list_display = ["code", "active"]


class CaseReferenceGroup(ModelViewSetGroup):
    menu_label = _("救助基础数据")
    menu_icon = "folder-open-inverse"
    menu_order = 300
    items = (AssistanceStandardViewSet, ServiceTypeViewSet, MonitoringRuleViewSet)


@hooks.register("register_admin_viewset")
def register_case_reference_data():
    return CaseReferenceGroup()
