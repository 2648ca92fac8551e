import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_every_part(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "search"}
    assert all(check["ok"] for check in body["checks"].values())


def test_health_reports_unreachable_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    # Status words only: no address or credential leaks out.
    assert "127.0.0.1" not in response.content.decode()


def test_health_reports_unreachable_search(client, settings):
    from search.client import get_client

    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:1"
    get_client.cache_clear()
    try:
        response = client.get("/healthz")
    finally:
        get_client.cache_clear()
    assert response.status_code == 503
    assert response.json()["checks"]["search"]["ok"] is False


@pytest.mark.redis
def test_health_uses_redis_for_cache_and_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    body = client.get("/healthz").json()
    assert body["checks"]["cache"]["detail"] == "RedisCache"
    assert body["checks"]["broker"]["ok"] is True
