"""The search page: `/search/?q=…` with facet links, highlighted snippets and pages."""

from __future__ import annotations

from django.http import QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from search.backends.base import SearchUnavailable
from search.filters import SearchFilter
from search.selectors import (
    PageOutOfRange,
    SearchOutcome,
    search_for_user,
    search_types_for_user,
)

FACET_TITLES = {
    "type": gettext_lazy("类型"),
    "street": gettext_lazy("街道"),
    "service_type": gettext_lazy("服务类型"),
    "status": gettext_lazy("状态"),
}


def _link(params: QueryDict, **changes: str | None) -> str:
    """The query string of `params` with some values set (None removes one) and the page
    dropped (a new filter starts at page one)."""
    query = params.copy()
    query.pop("page", None)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


def _facet_groups(outcome: SearchOutcome, params: QueryDict) -> list[dict]:
    groups = []
    for name, options in outcome.facets.items():
        if not options:
            continue
        groups.append(
            {
                "name": name,
                "title": FACET_TITLES[name],
                "options": [
                    {
                        "label": o.label,
                        "count": o.count,
                        "selected": o.selected,
                        "link": _link(params, **{name: None if o.selected else o.value}),
                    }
                    for o in options
                ],
            }
        )
    return groups


def search_view(request):
    """Search everything public (and open needs for signed-in users): the form, the
    results with their snippets, facet links with counts and the pager. A bad parameter is
    a 400 with its reason, a page past the end a 404, an index outage a 503."""
    params = request.GET
    filterset = SearchFilter(params or None, allowed_types=search_types_for_user(user=request.user))
    context = {"filter": filterset, "outcome": None, "facet_groups": [], "notice": ""}
    status = 200
    if filterset.is_bound and not filterset.is_valid():
        context["notice"], status = filterset.errors_text(), 400
    elif filterset.is_bound:
        query = filterset.to_query()
        try:
            outcome = search_for_user(user=request.user, query=query)
        except PageOutOfRange as exc:
            context["notice"], status = (
                _("没有第 %(page)s 页：共 %(total)s 页结果。")
                % {"page": exc.page, "total": exc.num_pages},
                404,
            )
            context["first_page"] = _link(params)
        except SearchUnavailable:
            context["notice"], status = _("搜索暂时不可用，请稍后再试。"), 503
        else:
            context["outcome"] = outcome
            labels = outcome.type_labels
            context["results"] = [{"hit": h, "label": labels.get(h.type, "")} for h in outcome.hits]
            context["facet_groups"] = _facet_groups(outcome, params)
            context["query"] = _link(params)
    return render(request, "search/search.html", context, status=status)
