"""Admin rules for project pages beyond Wagtail's page permissions: an organisation's
section is kept by the platform, so its editors may add and change projects in it but not
edit the section itself; and a move is refused before its confirmation page is shown (that
page would otherwise show another organisation's page to someone who may not move it)."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from wagtail import hooks

SECTION_MODEL = ("cms", "projectsectionpage")
PROJECT_MODELS = {SECTION_MODEL, ("charity", "projectpage")}


def _model_of(page) -> tuple[str, str]:
    content_type = page.cached_content_type
    return content_type.app_label, content_type.model


@hooks.register("before_edit_page")
def refuse_section_edit(request, page):
    if (
        _model_of(page) == SECTION_MODEL
        and not page.permissions_for_user(request.user).can_publish()
    ):
        raise PermissionDenied(_("组织项目栏目由平台维护，不能修改。"))


@hooks.register("before_move_page")
def refuse_project_move(request, page, destination):
    if _model_of(page) in PROJECT_MODELS and not page.permissions_for_user(
        request.user
    ).can_move_to(destination):
        raise PermissionDenied(_("您不能移动该页面。"))
