"""URLs of opportunities, sign-ups, check-in and hours."""

from django.urls import path

from volunteers.views import opportunities as views

urlpatterns = [
    path("opportunities/", views.opportunity_list_view, name="opportunity-list"),
    path("opportunities/new/", views.opportunity_create_view, name="opportunity-create"),
    path("opportunities/<int:pk>/", views.opportunity_detail_view, name="opportunity-detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit_view, name="opportunity-edit"),
    path(
        "opportunities/<int:pk>/cancel/", views.opportunity_cancel_view, name="opportunity-cancel"
    ),
    path("opportunities/<int:pk>/signup/", views.signup_create_view, name="signup-create"),
    path("signups/<int:pk>/cancel/", views.signup_cancel_view, name="signup-cancel"),
    path("my/opportunities/", views.my_opportunities_view, name="my-opportunities"),
    path("opportunities/<int:pk>/checkin-code/", views.checkin_code_view, name="checkin-code"),
    path(
        "opportunities/<int:pk>/checkin-code.json",
        views.checkin_code_json_view,
        name="checkin-code-json",
    ),
    path("checkin/<int:pk>/", views.checkin_view, name="checkin"),
    path("records/pending/", views.record_pending_view, name="record-pending"),
    path("records/<int:pk>/confirm/", views.record_confirm_view, name="record-confirm"),
    path("records/<int:pk>/revoke/", views.record_revoke_view, name="record-revoke"),
    path(
        "opportunities/<int:pk>/signups.xlsx",
        views.opportunity_roster_export_view,
        name="opportunity-roster-export",
    ),
]
