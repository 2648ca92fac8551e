from django.contrib.auth import views as auth_views
from django.urls import include, path

from marketplace import urls_contracts, urls_evaluation, urls_tenders
from marketplace.views import core as views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("workbench/", views.workbench_view, name="workbench"),
    path("organisations/", views.organisation_list_view, name="organisation-list"),
    path("organisations/new/", views.organisation_create_view, name="organisation-create"),
    path("organisations/<int:pk>/", views.organisation_detail_view, name="organisation-detail"),
    path(
        "organisations/<int:pk>/verify/",
        views.organisation_verify_view,
        name="organisation-verify",
    ),
    # Assistance: intake, cases, needs, referrals and monitoring warnings.
    path("apply/", views.apply_view, name="apply"),
    path("my/applications/", views.my_applications_view, name="my-applications"),
    path("cases/", views.case_list_view, name="case-list"),
    path("cases/export/", views.case_list_view, {"export": True}, name="case-export"),
    path("cases/new/", views.case_register_view, name="case-register"),
    path("cases/discover/", views.case_discover_view, name="case-discover"),
    path("cases/<int:pk>/", views.case_detail_view, name="case-detail"),
    path("cases/<int:pk>/reveal/", views.case_reveal_view, name="case-reveal"),
    path("cases/<int:pk>/verify/", views.case_verify_view, name="case-verify"),
    path("cases/<int:pk>/referrals/", views.referral_create_view, name="referral-create"),
    path("cases/<int:pk>/needs/new/", views.need_create_view, name="need-create"),
    path("needs/", views.need_list_view, name="need-list"),
    path("needs/export/", views.need_list_view, {"export": True}, name="need-export"),
    path("needs/open/", views.need_open_list_view, name="need-open-list"),
    path("needs/open/<int:pk>/", views.need_open_detail_view, name="need-open-detail"),
    path("needs/<int:pk>/", views.need_detail_view, name="need-detail"),
    path("needs/<int:pk>/transition/", views.need_transition_view, name="need-transition"),
    path("referrals/", views.referral_list_view, name="referral-list"),
    path(
        "referrals/<int:pk>/<str:action>/",
        views.referral_action_view,
        name="referral-action",
    ),
    path("warnings/", views.warning_list_view, name="warning-list"),
    path("warnings/<int:pk>/verify/", views.warning_verify_view, name="warning-verify"),
    # Government purchase of services, staff side: tenders and bids, evaluation and award,
    # contracts. (The public side is the Wagtail page at /procurement/.)
    path(
        "purchasing/",
        include(
            (
                [
                    *urls_tenders.urlpatterns,
                    *urls_evaluation.urlpatterns,
                    *urls_contracts.urlpatterns,
                ],
                "procurement",
            )
        ),
    ),
]
