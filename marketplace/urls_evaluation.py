"""Purchase-of-services pages: evaluation (namespace `procurement`, in `marketplace.urls`)."""

from django.urls import path

from marketplace.views import evaluation as views

urlpatterns = [
    # Civil affairs (auditors read): one tender's evaluation and its decisions.
    path(
        "evaluation/tenders/<int:pk>/",
        views.tender_evaluation_view,
        name="tender-evaluation",
    ),
    path(
        "evaluation/tenders/<int:pk>/evaluators/",
        views.evaluator_assign_view,
        name="evaluator-assign",
    ),
    path("evaluation/bids/<int:pk>/qualify/", views.bid_qualify_view, name="bid-qualify"),
    path("evaluation/lots/<int:pk>/award/", views.lot_award_view, name="lot-award"),
    path("evaluation/lots/<int:pk>/fail/", views.lot_fail_view, name="lot-fail"),
    path(
        "evaluation/lots/<int:pk>/ranking.xlsx",
        views.lot_ranking_export_view,
        name="lot-ranking-export",
    ),
    path(
        "evaluation/complaints/<int:pk>/answer/",
        views.complaint_answer_view,
        name="complaint-answer",
    ),
    # Evaluators: their assignments, declarations and score sheets.
    path("evaluation/mine/", views.assignment_list_view, name="assignment-list"),
    path("evaluation/mine/<int:pk>/", views.assignment_detail_view, name="assignment-detail"),
    path(
        "evaluation/mine/<int:pk>/bids/<int:bid_pk>/",
        views.score_sheet_view,
        name="score-sheet",
    ),
    # Agencies: complaints about awards of lots they bid on.
    path("awards/<int:pk>/complaint/", views.complaint_create_view, name="complaint-create"),
    path("complaints/mine/", views.complaint_list_mine_view, name="complaint-list-mine"),
]
