from rest_framework.routers import DefaultRouter

from marketplace.api import OrganisationViewSet

router = DefaultRouter()
router.register("organisations", OrganisationViewSet, basename="api-organisation")

urlpatterns = router.urls
