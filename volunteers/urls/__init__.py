"""Pages of volunteering: people, opportunities and hours, teams."""

from volunteers.urls.opportunities import urlpatterns as opportunity_urls
from volunteers.urls.people import urlpatterns as people_urls
from volunteers.urls.teams import urlpatterns as team_urls

urlpatterns = [*people_urls, *opportunity_urls, *team_urls]
