from rest_framework.routers import DefaultRouter

from marketplace.api import (
    ApplicationViewSet,
    CaseViewSet,
    NeedViewSet,
    OpenNeedViewSet,
    OrganisationViewSet,
    ReferralViewSet,
    WarningViewSet,
)
from marketplace.api_tenders import BidViewSet

router = DefaultRouter()
router.register("organisations", OrganisationViewSet, basename="api-organisation")
router.register("cases", CaseViewSet, basename="api-case")
router.register("needs", NeedViewSet, basename="api-need")
router.register("open-needs", OpenNeedViewSet, basename="api-open-need")
router.register("applications", ApplicationViewSet, basename="api-application")
router.register("referrals", ReferralViewSet, basename="api-referral")
router.register("warnings", WarningViewSet, basename="api-warning")
router.register("bids", BidViewSet, basename="api-bid")

urlpatterns = router.urls
