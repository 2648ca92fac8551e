"""The site's pages. The home page says what the platform is for and leads to each part."""

from dataclasses import dataclass

from django import forms
from django.db import models
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField
from wagtail.models import Page

from charity.filters import ProjectFilter
from charity.selectors import project_list_public
from marketplace.exports import xlsx_response
from marketplace.models import Area, CatalogueItem, Tender
from marketplace.ocds import tender_release_package
from marketplace.selectors import procurement_public
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


class TenderFilterForm(forms.Form):
    """Filters of the public tender list; a bad value answers 400 with the form's error."""

    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[
            ("", _("全部状态")),
            *[(s.value, s.label) for s in procurement_public.PUBLIC_STATUSES],
        ],
    )
    year = forms.IntegerField(label=_("年度"), required=False, min_value=2000, max_value=2100)
    street = forms.ModelChoiceField(
        label=_("服务街道"),
        required=False,
        queryset=Area.objects.filter(level=Area.Level.STREET).order_by("code"),
        empty_label=_("全部街道"),
    )


class CatalogueFilterForm(forms.Form):
    """Filters of one year's public catalogue."""

    category = forms.ChoiceField(
        label=_("服务类别"),
        required=False,
        choices=[("", _("全部类别")), *CatalogueItem.Category.choices],
    )
    service_list_only = forms.BooleanField(
        label=_("只看服务清单"), required=False, widget=forms.CheckboxInput
    )


@dataclass(frozen=True)
class _Filters:
    """What `marketplace/_filters.html` reads: an object with the bound form."""

    form: forms.Form


def _bound(form_class, request) -> tuple[forms.Form, dict, int]:
    form = form_class(request.GET or None)
    if not form.is_bound:
        return form_class(), {}, 200
    if not form.is_valid():
        return form, {}, 400
    return form, form.cleaned_data, 200


class ProcurementIndexPage(RoutablePageMixin, Page):
    """政府购买服务: the public face of purchase of services. Published tenders with filters,
    the guidance catalogue by year (with Excel download), each tender's notice with its
    results and contracts, and each tender's OCDS release. The downloads end in a slash
    like every page path (Wagtail serves no path with a dot in it) and name their file in
    Content-Disposition. Every read goes through
    `marketplace.selectors.procurement_public`; the page itself holds only its lead."""

    lead = models.CharField(_("导语"), max_length=255, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("lead")]

    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count = 1
    template = "cms/procurement_index_page.html"

    class Meta:
        verbose_name = _("政府购买服务")
        verbose_name_plural = _("政府购买服务")

    def _render(self, request, template: str, status: int = 200, **context):
        response = self.render(request, template=template, context_overrides=context)
        response.status_code = status
        return response

    @path("", name="tenders")
    def tender_list_route(self, request):
        form, values, status = _bound(TenderFilterForm, request)
        if status == 400:
            tenders = Tender.objects.none()
        else:
            street = values.get("street")
            tenders = procurement_public.tender_list_public(
                status=values.get("status", ""),
                year=values.get("year"),
                street=street.pk if street else None,
            )
        page, query = page_of(request, tenders)
        return self._render(
            request,
            "cms/procurement_index_page.html",
            status,
            filter=_Filters(form),
            page_obj=page,
            query=query,
        )

    @path("catalogue/", name="catalogue")
    def catalogue_years_route(self, request):
        return self._render(
            request,
            "cms/procurement_catalogue_years.html",
            years=procurement_public.catalogue_years_public(),
        )

    def _catalogue(self, request, year: int):
        form, values, status = _bound(CatalogueFilterForm, request)
        items = procurement_public.catalogue_items_public(
            year=year,
            category=values.get("category", ""),
            service_list_only=values.get("service_list_only", False),
        )
        return form, (items.none() if status == 400 else items), status

    @path("catalogue/<int:year>/", name="catalogue-year")
    def catalogue_route(self, request, year: int):
        form, items, status = self._catalogue(request, year)
        return self._render(
            request,
            "cms/procurement_catalogue.html",
            status,
            year=year,
            filter=_Filters(form),
            items=list(items),
            query=request.GET.urlencode(),
            export_url=self.get_url(request)
            + self.reverse_subpage("catalogue-export", args=[year]),
        )

    @path("catalogue/<int:year>/export/", name="catalogue-export")
    def catalogue_export_route(self, request, year: int):
        form, items, status = self._catalogue(request, year)
        if status == 400:
            return HttpResponseBadRequest(
                "；".join(str(e) for errors in form.errors.values() for e in errors)
            )
        headers = [
            _("目录编码"),
            _("服务名称"),
            _("服务类别"),
            _("服务内容"),
            _("服务标准"),
            _("计量单位"),
            _("指导价（元/单位）"),
            _("列入服务清单"),
        ]
        rows = (
            [
                item.code,
                item.name,
                item.get_category_display(),
                item.description,
                item.service_standard,
                item.get_unit_display(),
                item.guidance_price,
                gettext("是") if item.in_service_list else gettext("否"),
            ]
            for item in items
        )
        return xlsx_response(
            filename=f"catalogue-{year}",
            title=_("%(year)s年购买服务目录") % {"year": year},
            headers=headers,
            rows=rows,
        )

    @path("tenders/<int:tender_id>/", name="tender")
    def tender_route(self, request, tender_id: int):
        tender = procurement_public.tender_get_public(tender_id=tender_id)
        disclosure = procurement_public.tender_disclosure_public(tender=tender)
        base = self.get_url(request)
        return self._render(
            request,
            "cms/procurement_tender.html",
            tender=tender,
            disclosure=disclosure,
            now=timezone.now(),
            ocds_url=base + self.reverse_subpage("tender-ocds", args=[tender.pk]),
        )

    @path("tenders/<int:tender_id>/ocds/", name="tender-ocds")
    def tender_ocds_route(self, request, tender_id: int):
        tender = procurement_public.tender_get_public(tender_id=tender_id)
        uri = request.build_absolute_uri()
        package = tender_release_package(tender=tender, uri=uri)
        response = JsonResponse(package, json_dumps_params={"ensure_ascii": False, "indent": 2})
        response["Content-Disposition"] = f'inline; filename="ocds-{tender.reference}.json"'
        # Open data: other sites and tools may read it from the browser.
        response["Access-Control-Allow-Origin"] = "*"
        return response
