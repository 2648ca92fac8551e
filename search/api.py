"""`GET /api/search/?q=…`: the search page's results as JSON, with the same filters.

    {"count": N, "count_exact": true, "page": 1, "num_pages": 3,
     "results": [{"type", "id", "title", "url", "highlight"}],
     "facets": {"type": [{"value", "label", "count", "selected"}], "street": [...], ...}}

Errors are JSON with a Chinese `detail`: 400 for a bad parameter, 404 past the last page,
503 when the index cannot answer."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from search.backends.base import SearchUnavailable
from search.builders import STATUS_LABELS, TYPE_LABELS
from search.filters import MAX_QUERY_LENGTH, SearchFilter
from search.selectors import PageOutOfRange, search_for_user, search_types_for_user


class HitSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=list(TYPE_LABELS.items()))
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()
    highlight = serializers.CharField(help_text=gettext_lazy("片段，匹配处以 <mark> 标出"))


class FacetOptionSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    selected = serializers.BooleanField()


class SearchResponseSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    count_exact = serializers.BooleanField()
    page = serializers.IntegerField()
    num_pages = serializers.IntegerField()
    results = HitSerializer(many=True)
    facets = serializers.DictField(child=FacetOptionSerializer(many=True))


_ERROR = inline_serializer("SearchError", fields={"detail": serializers.CharField()})


class SearchAPIView(APIView):
    """Search what the user may see; the parameters are those of the search page."""

    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    @extend_schema(
        operation_id="search",
        parameters=[
            OpenApiParameter("q", str, description=f"搜索词（最多 {MAX_QUERY_LENGTH} 个字）"),
            OpenApiParameter("type", str, enum=list(TYPE_LABELS)),
            OpenApiParameter("street", int),
            OpenApiParameter("service_type", int),
            OpenApiParameter("status", str, enum=list(STATUS_LABELS)),
            OpenApiParameter("page", int),
        ],
        responses={200: SearchResponseSerializer, 400: _ERROR, 404: _ERROR, 503: _ERROR},
    )
    def get(self, request):
        filterset = SearchFilter(
            request.query_params, allowed_types=search_types_for_user(user=request.user)
        )
        if not filterset.is_valid():
            return Response(
                {"detail": filterset.errors_text(), "errors": filterset.form.errors},
                status=400,
            )
        query = filterset.to_query()
        try:
            outcome = search_for_user(user=request.user, query=query)
        except PageOutOfRange as exc:
            return Response(
                {
                    "detail": _("没有第 %(page)s 页：共 %(total)s 页结果。")
                    % {"page": exc.page, "total": exc.num_pages}
                },
                status=404,
            )
        except SearchUnavailable:
            return Response({"detail": _("搜索暂时不可用，请稍后再试。")}, status=503)
        data = {
            "count": outcome.count,
            "count_exact": outcome.count_exact,
            "page": query.page,
            "num_pages": outcome.num_pages,
            "results": [
                {
                    "type": h.type,
                    "id": h.id,
                    "title": h.title,
                    "url": h.url,
                    "highlight": h.highlight,
                }
                for h in outcome.hits
            ],
            "facets": {
                name: [
                    {"value": o.value, "label": o.label, "count": o.count, "selected": o.selected}
                    for o in options
                ]
                for name, options in outcome.facets.items()
            },
        }
        return Response(data)
