"""URLs of people: volunteers, joining organisations, social workers."""

from django.urls import path

from volunteers.views import people as views

urlpatterns = [
    path("volunteers/", views.volunteer_list_view, name="volunteer-list"),
    path(
        "volunteers/export/",
        views.volunteer_list_view,
        {"export": True},
        name="volunteer-export",
    ),
    path("volunteers/register/", views.volunteer_register_view, name="volunteer-register"),
    path("volunteers/me/", views.volunteer_me_view, name="volunteer-me"),
    path("volunteers/<int:pk>/", views.volunteer_detail_view, name="volunteer-detail"),
    path("volunteers/<int:pk>/reveal/", views.volunteer_reveal_view, name="volunteer-reveal"),
    path(
        "volunteers/<int:pk>/records.xlsx",
        views.volunteer_records_export_view,
        name="volunteer-records-export",
    ),
    path(
        "organisations/<int:org_pk>/join/",
        views.affiliation_request_view,
        name="affiliation-request",
    ),
    path("affiliations/", views.affiliation_list_view, name="affiliation-list"),
    path("affiliations/<int:pk>/decide/", views.affiliation_decide_view, name="affiliation-decide"),
    path("affiliations/<int:pk>/leave/", views.affiliation_leave_view, name="affiliation-leave"),
    path("social-workers/", views.social_worker_list_view, name="social-worker-list"),
    path("social-workers/me/", views.social_worker_me_view, name="social-worker-me"),
    path("social-workers/new/", views.social_worker_create_view, name="social-worker-create"),
    path(
        "social-workers/<int:pk>/edit/",
        views.social_worker_edit_view,
        name="social-worker-edit",
    ),
    path(
        "social-workers/<int:pk>/deactivate/",
        views.social_worker_deactivate_view,
        name="social-worker-deactivate",
    ),
]
