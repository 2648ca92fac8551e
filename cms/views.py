"""Public disclosure pages (公示): every fund's figures, one fund's or one project's, and
their Excel download. Open to everyone, read-only; the figures come from
`charity.selectors.disclosure`, which never lets personal data out."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from charity.selectors.disclosure import (
    Disclosure,
    disclosure_for_funds,
    fund_get_public,
    fund_list_public,
    fund_overview_public,
    project_ids_public,
)
from charity.selectors.projects import project_get_public
from cms.exports import disclosure_export
from marketplace.web import page_of


def _render(request, template: str, disclosure: Disclosure, **context):
    """The disclosure page: headline, charts with their tables, and the paged rows."""
    disbursements, query = page_of(request, disclosure.disbursements)
    donations, donation_query = page_of(request, disclosure.donations, param="dpage")
    context.update(
        {
            "disclosure": disclosure,
            "chart_data": disclosure.chart_data(),
            "disbursements": disbursements,
            "query": query,
            "donations": donations,
            "donation_query": donation_query,
        }
    )
    return render(request, template, context)


@require_GET
def disclosure_index_view(request):
    """Every fund with its balance, what it received and what it paid out."""
    return render(request, "cms/disclosure_index.html", {"overview": fund_overview_public()})


@require_GET
def disclosure_fund_view(request, code: str):
    fund = fund_get_public(code=code)
    return _render(
        request,
        "cms/disclosure_fund.html",
        disclosure_for_funds([fund]),
        fund=fund,
        project_public=bool(project_ids_public(ids=[fund.project_id])),
        export_url=reverse("disclosure-fund-export", args=[fund.code]),
    )


@require_GET
def disclosure_fund_export_view(request, code: str):
    fund = fund_get_public(code=code)
    return disclosure_export(
        disclosure=disclosure_for_funds([fund]), title=fund.name, filename=f"disclosure-{code}"
    )


def _project_disclosure(page_id: int):
    project = project_get_public(page_id=page_id)
    return project, disclosure_for_funds(fund_list_public().filter(project=project))


@require_GET
def disclosure_project_view(request, page_id: int):
    project, disclosure = _project_disclosure(page_id)
    return _render(
        request,
        "cms/disclosure_project.html",
        disclosure,
        project=project,
        export_url=reverse("disclosure-project-export", args=[project.pk]),
    )


@require_GET
def disclosure_project_export_view(request, page_id: int):
    project, disclosure = _project_disclosure(page_id)
    return disclosure_export(
        disclosure=disclosure, title=project.title, filename=f"disclosure-project-{project.pk}"
    )
