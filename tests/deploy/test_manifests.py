"""The deployment files agree with each other and with the app (``make check-deploy`` runs
this after the schema validators): every variable is a setting, every probe path a route, one
port and one user everywhere, the secrets only in the Secret, timeouts that nest.

Nothing here starts a container: what the schemas and these checks cannot prove is listed in
docs/operations.md ("What was validated offline").
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute

from calendo.app import create_app
from calendo.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SECRET_SETTINGS = {"CALENDO_DATABASE_URL", "CALENDO_REDIS_URL", "CALENDO_SECRET_KEY"}


def _settings() -> Settings:
    return Settings(_env_file=None, secret_key="x" * 48)  # type: ignore[call-arg]


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the runtime stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    instructions = [
        tuple(line.strip().split(None, 1)) for line in joined.splitlines() if line.strip()
    ]
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    return [(op.upper(), args) for op, args in instructions[stages[-1] :]]  # type: ignore[misc]


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for op, args in dockerfile():
        if op == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
    return env


def docker_json(instruction: str) -> list[str]:
    (args,) = [args for op, args in dockerfile() if op == instruction]
    value: list[str] = yaml.safe_load(args)
    return value


@cache
def k8s(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((K8S / name).read_text())
    return document


@cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def nginx() -> str:
    return (DEPLOY / "nginx.conf").read_text()


def nginx_directive(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", nginx(), flags=re.M)


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = manifest["spec"]["template"]["spec"]["containers"]
    return only


def env_names(spec: dict[str, Any]) -> set[str]:
    return {item["name"] for item in spec.get("env", [])}


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)?", value.strip())
    assert match, value
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_every_variable_is_a_setting() -> None:
    known = {f"CALENDO_{name.upper()}" for name in Settings.model_fields}
    used: dict[str, set[str]] = {
        "Dockerfile": {k for k in docker_env() if k.startswith("CALENDO_")},
        "configmap": set(k8s("configmap.yaml")["data"]),
        "secret": set(k8s("examples/secret.yaml")["stringData"]),
        "deployment": env_names(container(k8s("deployment.yaml"))),
        "job": env_names(container(k8s("migrate-job.yaml"))),
        "compose": set(compose()["x-calendo"]["environment"]),
    }
    for where, names in used.items():
        assert names, where
        assert names <= known, (where, names - known)


def test_secrets_come_from_the_secret_and_nothing_else_does() -> None:
    secret = k8s("examples/secret.yaml")
    assert set(secret["stringData"]) == SECRET_SETTINGS
    assert not SECRET_SETTINGS & set(k8s("configmap.yaml")["data"])
    for name in ("deployment.yaml", "migrate-job.yaml"):
        spec = container(k8s(name))
        assert spec["envFrom"] == [
            {"configMapRef": {"name": k8s("configmap.yaml")["metadata"]["name"]}}
        ]
        for item in spec["env"]:
            ref = item["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret["metadata"]["name"], item["name"])
    assert env_names(container(k8s("deployment.yaml"))) == SECRET_SETTINGS
    # The placeholder key cannot reach production: a production Settings refuses it.
    with pytest.raises(ValueError, match="CALENDO_SECRET_KEY"):
        Settings(
            _env_file=None, env="production", secret_key=secret["stringData"]["CALENDO_SECRET_KEY"]
        )  # type: ignore[call-arg]


def test_every_configured_value_is_accepted_by_the_settings() -> None:
    values = {
        k.removeprefix("CALENDO_").lower(): v for k, v in k8s("configmap.yaml")["data"].items()
    }
    Settings(_env_file=None, secret_key="x" * 48, **values)  # type: ignore[call-arg]
    compose_env = compose()["x-calendo"]["environment"]
    plain = {
        k.removeprefix("CALENDO_").lower(): v for k, v in compose_env.items() if "${" not in str(v)
    }
    Settings(_env_file=None, secret_key="x" * 48, **plain)  # type: ignore[call-arg]


def test_probe_and_health_paths_are_routes_of_the_app() -> None:
    app = create_app(_settings())  # the routes only: no lifespan, no database
    routes = {r.path for r in app.routes if isinstance(r, APIRoute) and "GET" in r.methods}
    deployment = container(k8s("deployment.yaml"))
    probes = [deployment[p]["httpGet"] for p in ("readinessProbe", "livenessProbe", "startupProbe")]
    assert {probe["path"] for probe in probes} == {"/health", "/health/live"}
    assert {probe["path"] for probe in probes} <= routes
    # Readiness checks the dependencies; liveness does not (an outage must not restart pods).
    assert deployment["readinessProbe"]["httpGet"]["path"] == "/health"
    assert deployment["livenessProbe"]["httpGet"]["path"] == "/health/live"
    annotations = k8s("deployment.yaml")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in routes
    (healthcheck,) = [args for op, args in dockerfile() if op == "HEALTHCHECK"]
    assert healthcheck.split("CMD", 1)[1].strip() == '["calendo", "healthcheck"]'


def test_one_port_everywhere() -> None:
    env = docker_env()
    port = int(env["CALENDO_PORT"])
    assert [int(p) for _, args in dockerfile() if _ == "EXPOSE" for p in args.split()] == [port]
    assert int(k8s("configmap.yaml")["data"]["CALENDO_PORT"]) == port
    deployment = k8s("deployment.yaml")
    (declared,) = container(deployment)["ports"]
    assert declared["containerPort"] == port
    assert (
        int(deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]) == port
    )
    (service_port,) = k8s("service.yaml")["spec"]["ports"]
    assert service_port["targetPort"] == declared["name"]
    assert compose()["services"]["calendo"]["expose"] == [str(port)]
    assert nginx_directive("server")[0].split()[0] == f"calendo:{port}"
    # The container listens on every interface, the default of a bare `calendo serve` does not.
    assert env["CALENDO_HOST"] == k8s("configmap.yaml")["data"]["CALENDO_HOST"] == "0.0.0.0"


def test_one_unprivileged_user_everywhere() -> None:
    (user,) = [args for op, args in dockerfile() if op == "USER"]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0 and gid != 0
    for name in ("deployment.yaml", "migrate-job.yaml"):
        pod = k8s(name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            uid,
            gid,
        )
        security = container(k8s(name))["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]


def test_the_servers_never_migrate_and_the_migration_runs_first() -> None:
    assert docker_json("ENTRYPOINT") == ["calendo"]
    assert docker_json("CMD") == ["serve", "--no-migrate"]
    assert container(k8s("deployment.yaml"))["args"] == ["serve", "--no-migrate"]
    assert container(k8s("migrate-job.yaml"))["args"] == ["migrate"]
    assert container(k8s("migrate-job.yaml"))["image"] == container(k8s("deployment.yaml"))["image"]
    services = compose()["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["calendo"]["command"] == ["serve", "--no-migrate"]
    assert services["calendo"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services["migrate"]["image"] == services["calendo"]["image"]


def test_rolling_updates_keep_old_and_new_side_by_side() -> None:
    spec = k8s("deployment.yaml")["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["replicas"] >= 2
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert k8s("service.yaml")["spec"]["selector"].items() <= labels.items()
    assert k8s("pdb.yaml")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # The Job's pods are not behind the Service.
    job_labels = k8s("migrate-job.yaml")["spec"]["template"]["metadata"]["labels"]
    assert not k8s("service.yaml")["spec"]["selector"].items() <= job_labels.items()


def test_shutdown_timeouts_nest() -> None:
    """Kubernetes and Docker wait longer than the drain, or they SIGKILL mid-request."""
    pod = k8s("deployment.yaml")["spec"]["template"]["spec"]
    graceful = int(k8s("configmap.yaml")["data"]["CALENDO_GRACEFUL_TIMEOUT_SECONDS"])
    pre_stop = container(k8s("deployment.yaml"))["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + graceful
    calendo = compose()["services"]["calendo"]
    compose_graceful = int(
        compose()["x-calendo"]["environment"]["CALENDO_GRACEFUL_TIMEOUT_SECONDS"]
    )
    assert seconds(calendo["stop_grace_period"]) > compose_graceful


def test_the_load_balancer_forwards_what_the_app_needs() -> None:
    settings = _settings()
    assert nginx_directive("proxy_http_version") == ["1.1"]
    assert "Upgrade $http_upgrade" in nginx_directive("proxy_set_header")
    assert "Connection $connection_upgrade" in nginx_directive("proxy_set_header")
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in nginx_directive("proxy_set_header")
    assert "X-Forwarded-Proto $scheme" in nginx_directive("proxy_set_header")
    # Idle feeds are pinged before the proxy would drop them.
    (read_timeout,) = nginx_directive("proxy_read_timeout")
    assert seconds(read_timeout) > settings.ws_heartbeat_seconds
    # The slow-client settings of docs/operations.md, and room for Calendo's own limits.
    assert nginx_directive("client_header_timeout") and nginx_directive("client_body_timeout")
    assert nginx_directive("proxy_request_buffering") == ["on"]
    (buffers,) = nginx_directive("large_client_header_buffers")
    count, size = buffers.split()
    assert int(count) * int(size.removesuffix("k")) * 1024 >= settings.max_header_bytes
    body, import_body = nginx_directive("client_max_body_size")
    assert int(body.removesuffix("m")) * 1024 * 1024 > settings.max_body_bytes
    assert int(import_body.removesuffix("m")) * 1024 * 1024 > settings.import_max_bytes
    assert re.search(r"location = /api/events/import \{\s*client_max_body_size", nginx())
    assert re.search(r"location = /metrics \{\s*return 404;", nginx())
    # No query string (a feed's ?token=) in the access log format.
    assert "$request " not in nginx() and "$request_uri" not in nginx() and "$args" not in nginx()


def test_compose_trusts_exactly_its_load_balancer() -> None:
    trusted = compose()["x-calendo"]["environment"]["CALENDO_TRUSTED_PROXIES"]
    lb = compose()["services"]["lb"]["networks"]["backend"]["ipv4_address"]
    assert trusted == lb
    (subnet,) = compose()["networks"]["backend"]["ipam"]["config"]
    assert ipaddress.ip_address(lb) in ipaddress.ip_network(subnet["subnet"])
    # The workers are reachable through the load balancer only.
    assert "ports" not in compose()["services"]["calendo"]


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    allowed = [
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    text = (ROOT / "Dockerfile").read_text()
    copied = {
        source
        for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M)
        for source in sources.split()
    }
    assert copied == set(allowed) == {"pyproject.toml", "constraints.txt", "README.md", "calendo"}
