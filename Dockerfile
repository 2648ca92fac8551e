# syntax=docker/dockerfile:1
#
# Application image for the 五社联动 marketplace. One image serves every app role:
#   web     gunicorn (WSGI, all plain HTTP)      -- the default CMD below
#   asgi    uvicorn (websockets only)
#   worker  celery worker
#   beat    celery beat (django_celery_beat DatabaseScheduler)
#   migrate python manage.py migrate (one-shot)
# See docker-compose.yml for how each role is started.
#
# gettext is deliberately not installed: the compiled .mo files are committed, so
# compilemessages never runs inside the image.

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app

# Dependencies first, so the (slow) install layer is cached until the lock file changes.
# --require-hashes: every package in requirements.lock is pinned and hash-checked.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# Unprivileged runtime user. Fixed ids make volume ownership predictable.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

# The project itself (see .dockerignore for what is left out). The code stays owned by
# root and read-only for the app user; only the directories the app writes to are its own.
COPY . .
RUN mkdir -p /app/staticfiles /app/media \
    && chown app:app /app/staticfiles /app/media

USER app

# Collect static files at build time. The secret key is a throwaway used only for this
# command and never reaches the running containers (it is not an ENV). DATABASE_URL,
# REDIS_URL and ELASTICSEARCH_URL are placeholders so the production settings import;
# collectstatic connects to none of them.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-not-a-secret \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=sqlite:////tmp/build-only.sqlite3 \
    REDIS_URL=redis://localhost:6379/0 \
    ELASTICSEARCH_URL=http://localhost:9200 \
    python manage.py collectstatic --noinput

EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
