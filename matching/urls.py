"""URLs of matching (namespace `matching`, mounted at /matching/)."""

from django.urls import path

from matching import views

app_name = "matching"

urlpatterns = [
    path("", views.run_list_view, name="run-list"),
    path("runs/start", views.run_start_view, name="run-start"),
    path("runs/<int:pk>/", views.run_detail_view, name="run-detail"),
    path("runs/<int:pk>/status.json", views.run_status_view, name="run-status"),
    path("proposals/", views.proposal_list_view, name="proposal-list"),
    path("proposals/<int:pk>/", views.proposal_detail_view, name="proposal-detail"),
    path("proposals/<int:pk>/approve", views.proposal_approve_view, name="proposal-approve"),
    path("proposals/<int:pk>/reject", views.proposal_reject_view, name="proposal-reject"),
    path("proposals/<int:pk>/redo", views.proposal_redo_view, name="proposal-redo"),
    path("assignments/", views.assignment_list_view, name="assignment-list"),
    path(
        "assignments/<int:item_pk>/respond",
        views.assignment_respond_view,
        name="assignment-respond",
    ),
]
