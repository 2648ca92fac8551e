"""The site's pages. The home page says what the platform is for and leads to each part."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from charity.filters import ProjectFilter
from charity.selectors import project_list_public
from marketplace.web import filtered, page_of


class HomePage(Page):
    """The site root: purpose of the platform and the way into each part."""

    lead = models.CharField(_("导语"), max_length=255, blank=True)
    body = RichTextField(_("正文"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("lead"), FieldPanel("body")]

    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    class Meta:
        verbose_name = _("首页")


class ProjectIndexPage(Page):
    """服务项目: every published service project, with filters. Each organisation that may
    post projects has its own section under it; the review workflow is set on this page so
    every project passes through it."""

    lead = models.CharField(_("导语"), max_length=255, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("lead")]

    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.ProjectSectionPage"]
    max_count = 1
    template = "cms/project_index_page.html"

    class Meta:
        verbose_name = _("服务项目目录")
        verbose_name_plural = _("服务项目目录")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        filterset = ProjectFilter(request.GET or None, queryset=project_list_public())
        queryset, status = filtered(filterset)
        page, query = page_of(request, queryset)
        context.update({"filter": filterset, "page_obj": page, "query": query, "status": status})
        return context

    def serve(self, request, *args, **kwargs):
        response = super().serve(request, *args, **kwargs)
        # A bad filter value answers 400 with the form and its error, like the other lists.
        response.status_code = response.context_data.get("status", 200)
        return response


class ProjectSectionPage(Page):
    """One organisation's part of the project index. Its staff may add and edit projects
    here (and only here); publishing is left to the review workflow."""

    organisation = models.OneToOneField(
        "marketplace.Organisation",
        verbose_name=_("组织"),
        on_delete=models.PROTECT,
        related_name="project_section",
    )

    content_panels = [*Page.content_panels]

    parent_page_types = ["cms.ProjectIndexPage"]
    subpage_types = ["charity.ProjectPage"]
    # Made by `project_section_ensure` for a verified organisation, never by hand.
    is_creatable = False
    template = "cms/project_section_page.html"

    class Meta:
        verbose_name = _("组织项目栏目")
        verbose_name_plural = _("组织项目栏目")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        page, query = page_of(request, project_list_public(organisation=self.organisation_id))
        context.update({"page_obj": page, "query": query})
        return context
