"""REST API of bids, read-only and under the sealed rule: a bidder lists its own bids
(content still sealed: the plain fields are empty until opening), civil affairs, auditors
and declared evaluators list opened bids; anyone else gets 404 for a bid, whatever its id."""

from __future__ import annotations

from rest_framework import permissions, serializers, viewsets

from marketplace.api import _enum
from marketplace.models import Bid
from marketplace.selectors.tenders import bid_get_for_user, bid_list_for_user


class BidSerializer(serializers.ModelSerializer):
    """A bid as its readers may see it. Before opening the plain fields (price, team,
    declarations, plan name) are empty for everyone: they are written at opening."""

    status = _enum("BidStatusEnum", Bid.Status.choices, read_only=True)
    qualification = _enum("BidQualificationEnum", Bid.Qualification.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    tender = serializers.IntegerField(source="lot.tender_id", read_only=True)
    tender_reference = serializers.CharField(source="lot.tender.reference", read_only=True)
    lot_number = serializers.IntegerField(source="lot.number", read_only=True)
    lot_title = serializers.CharField(source="lot.title", read_only=True)
    agency_name = serializers.CharField(source="agency.name", read_only=True)
    team = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Bid
        fields = [
            "id",
            "tender",
            "tender_reference",
            "lot",
            "lot_number",
            "lot_title",
            "agency",
            "agency_name",
            "status",
            "status_display",
            "submitted_at",
            "revised_at",
            "revision",
            "opened_at",
            "price",
            "plan_name",
            "team",
            "declarations",
            "qualification",
            "qualification_reason",
        ]
        read_only_fields = fields


class BidViewSet(viewsets.ReadOnlyModelViewSet):
    """Bids the caller may see (`bid_list_for_user`); one bid, or 404."""

    serializer_class = BidSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Bid.objects.none()
        return bid_list_for_user(user=self.request.user)

    def get_object(self):
        return bid_get_for_user(bid_id=self.kwargs["pk"], user=self.request.user)
