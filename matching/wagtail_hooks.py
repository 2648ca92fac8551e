"""The approval rules in the Wagtail admin (审批权限规则): civil affairs keeps the authority
rules as data — which amounts, cross-street proposals or urgencies go to the district and
what the street decides. Who may edit is the model's permissions, granted to the
civil-affairs group by `approval_rule_editors_sync` (and the migration that first did)."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.admin.viewsets.model import ModelViewSet

from matching.models import ApprovalRule


class ApprovalRuleViewSet(ModelViewSet):
    model = ApprovalRule
    icon = "tasks"
    menu_label = _("匹配审批权限")
    menu_name = "matching-approval-rules"
    menu_order = 320
    add_to_admin_menu = True
    list_display = ["position", "name", "min_amount", "cross_street", "urgency", "level", "active"]
    list_filter = ["level", "active"]
    ordering = ["position", "pk"]
    panels = [
        FieldRowPanel([FieldPanel("position"), FieldPanel("active")]),
        FieldPanel("name"),
        FieldRowPanel(
            [FieldPanel("min_amount"), FieldPanel("cross_street"), FieldPanel("urgency")]
        ),
        FieldPanel("level"),
    ]


@hooks.register("register_admin_viewset")
def register_approval_rules():
    return ApprovalRuleViewSet("approval_rules")
