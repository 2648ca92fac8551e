"""`make run`: the embedded default with DEBUG on. The only mode where DEBUG is on."""

from .base import *  # noqa: F403

DEBUG = True
# Static files are served by WhiteNoise straight from the finders under the ASGI server.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
