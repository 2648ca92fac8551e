"""URLs of teams."""

from django.urls import path

from volunteers.views import teams as views

urlpatterns = [
    path("teams/", views.team_list_view, name="team-list"),
    path("teams/new/", views.team_create_view, name="team-create"),
    path("teams/<int:pk>/", views.team_room_view, name="team-room"),
    path("teams/<int:pk>/members/", views.team_members_view, name="team-members"),
    path("teams/<int:pk>/messages/", views.team_message_post_view, name="team-message-post"),
    path("teams/<int:pk>/tasks/", views.team_task_create_view, name="team-task-create"),
    path("teams/<int:pk>/close/", views.team_close_view, name="team-close"),
    path(
        "teams/tasks/<int:pk>/<str:action>/",
        views.team_task_action_view,
        name="team-task-action",
    ),
]
