"""Every websocket route of the product, gathered from the apps that own them."""

from marketplace.routing import websocket_urlpatterns as marketplace_ws
from volunteers.routing import websocket_urlpatterns as volunteers_ws

websocket_urlpatterns = [*marketplace_ws, *volunteers_ws]
