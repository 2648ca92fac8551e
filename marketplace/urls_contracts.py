"""Purchase-of-services pages: contracts (namespace `procurement`, in `marketplace.urls`)."""

from django.urls import path

from marketplace.views import contracts as views

urlpatterns = [
    path("contracts/", views.contract_list_view, name="contract-list"),
    path("contracts/export/", views.contract_list_view, {"export": True}, name="contract-export"),
    path("awards/<int:pk>/contract/", views.contract_sign_view, name="contract-sign"),
    path("contracts/<int:pk>/", views.contract_detail_view, name="contract-detail"),
    path("contracts/<int:pk>/deliveries/", views.delivery_add_view, name="delivery-add"),
    path("contracts/<int:pk>/team-log/", views.team_log_view, name="delivery-team-log"),
    path("contracts/<int:pk>/reviews/", views.review_draw_view, name="review-draw"),
    path("milestones/<int:pk>/submit/", views.milestone_submit_view, name="milestone-submit"),
    path("milestones/<int:pk>/decide/", views.milestone_decide_view, name="milestone-decide"),
    path(
        "deliveries/<int:pk>/evidence/",
        views.delivery_evidence_view,
        name="delivery-evidence",
    ),
    path("reviews/<int:pk>/", views.review_detail_view, name="review-detail"),
    path("reviews/<int:pk>/complete/", views.review_complete_view, name="review-complete"),
    path("samples/<int:pk>/verify/", views.sample_verify_view, name="sample-verify"),
]
