"""Static checks of the production deployment files.

docker-compose.yml, the Dockerfiles and the nginx config are parsed (no Docker engine, no
database) and checked for the wiring the stack relies on: which process each service runs,
the shared environment, health checks, the smartcn plugin and the nginx routing.
"""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

ALL_SERVICES = {
    "db",
    "redis",
    "elasticsearch",
    "migrate",
    "web",
    "asgi",
    "worker",
    "beat",
    "nginx",
}
APP_SERVICES = ["migrate", "web", "asgi", "worker", "beat"]
REQUIRED_APP_ENV = [
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "ELASTICSEARCH_URL",
    "SENSITIVE_DATA_KEYS",
    "SENSITIVE_DATA_KEY_ID",
    "SENSITIVE_DATA_HASH_KEY",
]
# Values that only the deployment may supply: compose refuses to start without them.
REQUIRED_SECRETS = [
    "DJANGO_SECRET_KEY",
    "SENSITIVE_DATA_KEYS",
    "SENSITIVE_DATA_KEY_ID",
    "SENSITIVE_DATA_HASH_KEY",
]
HEALTHCHECKED_SERVICES = ["db", "redis", "elasticsearch", "web", "worker"]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose():
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose):
    services = compose.get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services mapping"
    return services


def argv(command):
    """A compose ``command`` (string or list) as an argument list."""
    assert command, "service has no command"
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def environment(service):
    """A service's ``environment`` (mapping or KEY=VALUE list) as a dict."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def option_value(args, *names):
    """The value of ``--name value`` or ``--name=value`` in ``args``, else None."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def build_context(service):
    build = service.get("build")
    assert build, "service is not built from a local Dockerfile"
    if isinstance(build, str):
        return ROOT / build, "Dockerfile"
    return ROOT / build.get("context", "."), build.get("dockerfile", "Dockerfile")


def dockerfile_instructions(path):
    """(INSTRUCTION, arguments) pairs of a Dockerfile, with continuation lines joined."""
    logical, current = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    result = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def nginx_tokens(text):
    """Split nginx config text into words and the punctuation ``{``, ``}`` and ``;``."""
    tokens, word, quote, in_comment = [], "", None, False
    for char in text:
        if in_comment:
            in_comment = char != "\n"
            continue
        if quote:
            if char == quote:
                quote = None
            else:
                word += char
            continue
        if char in "\"'":
            quote = char
        elif char == "#":
            in_comment = True
        elif char.isspace() or char in "{};":
            if word:
                tokens.append(word)
                word = ""
            if char in "{};":
                tokens.append(char)
        else:
            word += char
    assert quote is None, "unterminated quote in nginx config"
    if word:
        tokens.append(word)
    return tokens


def nginx_parse(tokens, position=0, depth=0):
    """Parse tokens into a list of ``(words, children)``; children is None for a directive."""
    statements, words = [], []
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token == ";":
            statements.append((words, None))
            words = []
        elif token == "{":
            children, position = nginx_parse(tokens, position, depth + 1)
            statements.append((words, children))
            words = []
        elif token == "}":
            assert depth > 0 and not words, "unbalanced braces in nginx config"
            return statements, position
        else:
            words.append(token)
    assert depth == 0 and not words, "nginx config ends inside a block or directive"
    return statements, position


def nginx_blocks(statements, name):
    """All blocks called ``name`` anywhere in the tree."""
    found = []
    for words, children in statements:
        if children is None:
            continue
        if words and words[0] == name:
            found.append((words, children))
        found.extend(nginx_blocks(children, name))
    return found


def nginx_directives(children, name):
    return [words[1:] for words, sub in children if sub is None and words and words[0] == name]


def location(statements, path):
    matches = [
        children for words, children in nginx_blocks(statements, "location") if words[-1] == path
    ]
    assert len(matches) == 1, f"expected exactly one 'location {path}' block"
    return matches[0]


def header_values(children, header):
    return [
        args[1]
        for args in nginx_directives(children, "proxy_set_header")
        if len(args) == 2 and args[0].lower() == header.lower()
    ]


def mount(service, target):
    """The source of the volume mounted at ``target`` in a service (short or long syntax)."""
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2 and parts[1] == target:
                return parts[0]
        elif volume.get("target") == target:
            return volume.get("source")
    return None


@pytest.fixture(scope="module")
def nginx_config(services):
    nginx = services["nginx"]
    source = mount(nginx, "/etc/nginx/nginx.conf")
    if source is None:
        source = mount(nginx, "/etc/nginx/conf.d/default.conf")
    assert source, "the nginx service does not mount an nginx config"
    path = ROOT / source
    assert path.is_file(), f"mounted nginx config {source} does not exist"
    statements, _ = nginx_parse(nginx_tokens(path.read_text(encoding="utf-8")))
    return statements


# ----------------------------------------------------------------------------- tests


def test_all_services_are_defined(services):
    missing = ALL_SERVICES - set(services)
    assert not missing, f"missing services: {sorted(missing)}"


def test_compose_file_has_no_obsolete_version_key(compose):
    assert "version" not in compose


def test_web_runs_gunicorn_with_the_wsgi_application(services):
    args = argv(services["web"]["command"])
    assert args[0] == "gunicorn"
    assert "config.wsgi:application" in args
    assert option_value(args, "--bind", "-b") == "0.0.0.0:8000"


def test_asgi_runs_uvicorn_with_the_asgi_application(services):
    args = argv(services["asgi"]["command"])
    assert args[0] == "uvicorn"
    assert "config.asgi:application" in args
    assert option_value(args, "--port") == "8001"
    assert "--proxy-headers" in args


def test_worker_runs_a_celery_worker(services):
    args = argv(services["worker"]["command"])
    assert args[:4] == ["celery", "-A", "config", "worker"]


def test_beat_uses_the_database_scheduler(services):
    args = argv(services["beat"]["command"])
    assert args[:4] == ["celery", "-A", "config", "beat"]
    scheduler = option_value(args, "--scheduler", "-S")
    assert scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


def test_migrate_runs_migrations_once(services):
    migrate = services["migrate"]
    assert "manage.py migrate --noinput" in " ".join(argv(migrate["command"]))
    assert migrate.get("restart") == "no"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_the_production_environment(services, name):
    env = environment(services[name])
    missing = [key for key in REQUIRED_APP_ENV if key not in env]
    assert not missing, f"{name} lacks environment keys {missing}"
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["DATABASE_URL"].startswith("postgres://wushe:")
    assert env["DATABASE_URL"].endswith("@db:5432/wushe")
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    # The secret key and the sensitive-data keys must come from the deployment environment,
    # never from the file, and without a default.
    for key in REQUIRED_SECRETS:
        assert re.fullmatch(rf"\$\{{{key}:\?[^}}]*\}}", env[key]), (name, key)


def test_env_example_lists_every_required_secret():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    missing = [key for key in REQUIRED_SECRETS if key not in names]
    assert not missing, f".env.example lacks {missing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_are_built_from_the_project_dockerfile(services, name):
    context, dockerfile = build_context(services[name])
    assert context.resolve() == ROOT
    assert (context / dockerfile).is_file()


def test_app_dockerfile_installs_hashed_requirements_and_drops_root():
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any("--require-hashes" in run and "requirements.lock" in run for run in runs)
    assert any("collectstatic --noinput" in run for run in runs)
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize("name", HEALTHCHECKED_SERVICES)
def test_services_define_a_healthcheck(services, name):
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck.get("test")
    assert test, f"{name} healthcheck has no test"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1


def test_web_healthcheck_probes_healthz(services):
    test = services["web"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(argv(test))


def test_worker_healthcheck_pings_its_own_node_through_a_shell(services):
    test = services["worker"]["healthcheck"]["test"]
    # $HOSTNAME is only expanded by a shell; "$$" escapes compose's own interpolation.
    assert test[0] == "CMD-SHELL"
    assert "celery -A config inspect ping -d celery@$$HOSTNAME" in test[1]


@pytest.mark.parametrize("name", ["web", "asgi"])
def test_web_and_asgi_wait_for_backends_and_migrations(services, name):
    depends_on = services[name]["depends_on"]
    for backend in ("db", "redis", "elasticsearch"):
        assert depends_on[backend]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_elasticsearch_image_installs_smartcn(services):
    context, dockerfile = build_context(services["elasticsearch"])
    instructions = dockerfile_instructions(context / dockerfile)
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms and froms[-1].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(
        "elasticsearch-plugin install" in run and "analysis-smartcn" in run.split() for run in runs
    )


def test_named_volumes_are_declared(compose):
    assert {"pgdata", "redisdata", "esdata", "static", "media"} <= set(compose["volumes"])


def test_static_and_media_volumes_are_shared_between_web_and_nginx(services, nginx_config):
    assert mount(services["web"], "/app/staticfiles") == "static"
    assert mount(services["web"], "/app/media") == "media"
    nginx = services["nginx"]
    for volume, path in (("static", "/static/"), ("media", "/media/")):
        (alias,) = nginx_directives(location(nginx_config, path), "alias")
        assert mount(nginx, alias[0].rstrip("/")) == volume


def test_nginx_upstreams_point_at_web_and_asgi(nginx_config):
    upstreams = {words[1]: children for words, children in nginx_blocks(nginx_config, "upstream")}
    assert ["web:8000"] in [args[:1] for args in nginx_directives(upstreams["web"], "server")]
    assert ["asgi:8001"] in [args[:1] for args in nginx_directives(upstreams["asgi"], "server")]


def test_nginx_routes_websockets_to_asgi_with_upgrade_headers(nginx_config):
    ws = location(nginx_config, "/ws/")
    assert nginx_directives(ws, "proxy_pass") == [["http://asgi"]]
    assert nginx_directives(ws, "proxy_http_version") == [["1.1"]]
    assert header_values(ws, "Upgrade") == ["$http_upgrade"]
    connection = header_values(ws, "Connection")
    assert connection and (connection[0] == "upgrade" or connection[0].startswith("$"))


def test_nginx_routes_everything_else_to_web(nginx_config):
    root = location(nginx_config, "/")
    assert nginx_directives(root, "proxy_pass") == [["http://web"]]
    proxy_passes = [
        args[0]
        for words, children in nginx_blocks(nginx_config, "location")
        for args in nginx_directives(children, "proxy_pass")
    ]
    assert sorted(proxy_passes) == ["http://asgi", "http://web"]


def test_nginx_forwards_client_headers_and_allows_uploads(nginx_config):
    (server,) = [children for _, children in nginx_blocks(nginx_config, "server")]
    assert header_values(server, "Host") == ["$host"]
    assert header_values(server, "X-Forwarded-For") == ["$proxy_add_x_forwarded_for"]
    assert header_values(server, "X-Forwarded-Proto")
    assert ["80", "default_server"] in nginx_directives(server, "listen")
    body_sizes = [
        args
        for _, children in nginx_blocks(nginx_config, "http") + [(None, server)]
        for args in nginx_directives(children, "client_max_body_size")
    ]
    assert body_sizes == [["20m"]]
