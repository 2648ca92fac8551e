"""REST API of the shared domain, with the product-wide error translation."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.exceptions import DomainError, InvalidState, NotPermitted
from marketplace.filters import OrganisationFilter
from marketplace.models import Area, Organisation
from marketplace.selectors import organisation_get_for_user, organisation_list_for_user
from marketplace.services import organisation_create, organisation_verify


def exception_handler(exc, context):
    """DRF's handler, plus: domain errors and model validation become 4xx with a translated
    message and a stable code, never a 500."""
    if isinstance(exc, NotPermitted):
        exc = PermissionDenied(detail=exc.message, code=exc.code)
    elif isinstance(exc, DjangoValidationError):
        exc = ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, DomainError):
        status_code = (
            status.HTTP_409_CONFLICT
            if isinstance(exc, InvalidState)
            else status.HTTP_400_BAD_REQUEST
        )
        return Response({"code": exc.code, "detail": str(exc.message)}, status=status_code)
    return drf_exception_handler(exc, context)


def schema_product_endpoints(endpoints):
    """Keep only the product's own endpoints (under /api/) in the OpenAPI schema."""
    return [e for e in endpoints if e[0].startswith("/api/")]


class OrganisationSerializer(serializers.ModelSerializer):
    area = serializers.PrimaryKeyRelatedField(queryset=Area.objects.all(), label=_("所在区域"))
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    street_name = serializers.CharField(source="street.name", read_only=True, default=None)

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "kind",
            "kind_display",
            "department",
            "area",
            "area_name",
            "street",
            "street_name",
            "credit_code",
            "address",
            "description",
            "verified",
            "verified_at",
        ]
        read_only_fields = ["street", "verified", "verified_at"]
        # The partial unique constraint is checked by the service's full_clean.
        validators = []


class OrganisationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The organisation directory. Anyone reads what the directory shows them; civil affairs
    and street officials register organisations; civil affairs verifies them."""

    serializer_class = OrganisationSerializer
    filterset_class = OrganisationFilter
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    def get_queryset(self):
        return organisation_list_for_user(user=self.request.user)

    def get_object(self):
        return organisation_get_for_user(organisation_id=self.kwargs["pk"], user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = organisation_create(
            created_by=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=None, responses=OrganisationSerializer)
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def verify(self, request, pk=None):
        organisation = organisation_verify(organisation=self.get_object(), verified_by=request.user)
        return Response(self.get_serializer(organisation).data)
