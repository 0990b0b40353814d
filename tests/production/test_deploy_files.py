"""The deployment files, checked without a container engine: the compose file, the Dockerfile, the
production workspace and instance, against the locations of ``workspace.yaml`` as it is today
(domains are added there) and against the environment variables the code actually reads.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
GRPC_PORT = 4000
# Processes that open the Dagster instance (sensors run in the code servers with the daemon's instance).
INSTANCE_USERS = ("webserver", "daemon", "webserver-readonly")
# Secrets reach ECS runs through Secrets Manager (the launcher's secrets_tag), never as plain variables.
ECS_SECRETS = {"MESH_MASKING_KEY", "DAGSTER_PG_PASSWORD"}


def workspace_locations() -> list[str]:
    entries = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    return [next(iter(e.values()))["location_name"] for e in entries]


def service(location: str) -> str:
    """The compose service (and gRPC host) of a location's code server: DNS names take no underscores."""
    return "code-" + location.replace("_", "-")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def dockerfile_command() -> str:
    """The code server command of the domain image (the last stage's CMD, run by ``sh -c``)."""
    cmd = re.findall(r"^CMD (\[.*\])$", dockerfile(), re.MULTILINE)[-1]
    args = yaml.safe_load(cmd)
    assert args[:2] == ["sh", "-c"], args
    return args[2].removeprefix("exec ")


def instance_env_vars(path: Path) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"} and isinstance(node["env"], str):
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return found


def production_env_vars() -> set[str]:
    """The variables ``mesh.orchestration.environment`` requires for MESH_ENV=production (its EnvVars)."""
    from mesh.orchestration import environment

    def walk(value, seen: set[str]) -> None:
        if isinstance(value, dg.EnvVar):
            seen.add(value.env_var_name)
        elif isinstance(value, dg.ConfigurableResource):
            for name in type(value).model_fields:
                walk(value.__dict__.get(name), seen)

    bare = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "AWS_"))}
    with mock.patch.dict(os.environ, bare, clear=True):
        resources = environment.resources("production")
    names = {"MESH_ENV"}  # the switch itself
    for resource in resources.values():
        walk(resource, names)
    return names


def test_compose_has_a_code_server_per_workspace_location():
    services = compose()["services"]
    locations = workspace_locations()
    assert {"customer", "sales"} <= set(locations)
    for location in locations:
        name, image = service(location), f"mesh-{location.replace('_', '-')}:latest"
        server = services.get(name)
        assert server is not None, (
            f"deploy/compose.yaml has no code server for location {location}; add it, a depends_on entry in "
            f"x-platform and a grpc_server in deploy/workspace.yaml:\n  {name}:\n    <<: *code-server\n"
            f"    image: {image}\n    build:\n      <<: *build\n      args:\n        <<: *build-args\n"
            f"        DOMAIN: {location}\n    environment:\n      <<: *mesh-env\n"
            f"      DAGSTER_CURRENT_IMAGE: {image}\n")
        assert server["build"]["args"]["DOMAIN"] == location
        assert server["build"].get("target") in (None, "domain")
        assert server["environment"]["DAGSTER_CURRENT_IMAGE"] == server["image"] == image
        assert server["healthcheck"]["test"][-2:] == ["-p", str(GRPC_PORT)]
        for platform in INSTANCE_USERS:
            assert services[platform]["depends_on"][name]["condition"] == "service_healthy", (platform, name)
    stale = {name for name in services if name.startswith("code-")} - {service(loc) for loc in locations}
    assert not stale, f"code servers for locations workspace.yaml does not have: {stale}"


def test_production_workspace_points_at_the_code_servers():
    entries = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"]
    servers = {e["grpc_server"]["location_name"]: e["grpc_server"] for e in entries}
    assert set(servers) == set(workspace_locations())
    for location, server in servers.items():
        assert (server["host"], server["port"]) == (service(location), GRPC_PORT)
    assert f"--port {GRPC_PORT}" in dockerfile_command()


def test_dockerfile_builds_one_image_per_domain():
    text = dockerfile()
    domain_stage = text.split("AS domain", 1)[1]
    assert re.search(r"^ARG DOMAIN$", domain_stage, re.MULTILINE)
    assert "ENV MESH_DOMAIN=${DOMAIN}" in domain_stage
    command = dockerfile_command()
    assert command.startswith("dagster api grpc ")
    assert '--module-name mesh.locations --attribute "$MESH_DOMAIN"' in command
    assert "--host 0.0.0.0" in command
    assert "AS platform" in text
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for location in workspace_locations():
        for source in re.findall(r"^COPY (\S+) ", text, re.MULTILINE):
            if source.startswith("--"):
                continue
            path = source.replace("${DOMAIN}", location).replace("${INSTANCE_CONFIG}", "deploy/dagster.yaml")
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
            assert not any(path == i or path.startswith(i + "/") for i in ignored), f"{path} is in .dockerignore"
    for service in compose()["services"].values():
        config = service.get("build", {}).get("args", {}).get("INSTANCE_CONFIG")
        assert config is None or (ROOT / config).exists()


def test_readonly_webserver_is_reachable_only_through_the_authenticating_proxy():
    services = compose()["services"]
    readonly = services["webserver-readonly"]
    assert readonly["command"][0] == "dagster-webserver" and "--read-only" in readonly["command"]
    assert "ports" not in readonly, "the read-only webserver must not publish a port of its own"
    port = readonly["command"][readonly["command"].index("-p") + 1]
    proxy = services["readonly-proxy"]
    assert proxy["ports"] and proxy["depends_on"] == ["webserver-readonly"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in proxy["volumes"]}
    config = (DEPLOY / mounts["/etc/nginx/conf.d/default.conf"]).read_text()
    assert f"proxy_pass http://webserver-readonly:{port};" in config
    assert re.search(r"^\s*auth_basic \"", config, re.MULTILINE)
    assert "auth_basic_user_file /etc/nginx/htpasswd;" in config and "/etc/nginx/htpasswd" in mounts
    # The full webserver is for the platform team: loopback only.
    assert all(p.startswith("127.0.0.1:") for p in services["webserver"]["ports"])
    assert "--read-only" not in services["webserver"]["command"]


def test_every_process_has_the_variables_the_instance_and_the_mesh_read():
    services = compose()["services"]
    instance = instance_env_vars(DEPLOY / "dagster.docker.yaml")
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_COMPUTE_LOG_BUCKET"} <= instance
    assert instance == instance_env_vars(DEPLOY / "dagster.yaml")
    mesh = production_env_vars()
    assert {"MESH_S3_BUCKET", "MESH_MASKING_KEY", "AWS_REGION"} <= mesh
    code_servers = [service(location) for location in workspace_locations()]
    for name in [*INSTANCE_USERS, *code_servers]:
        missing = instance - set(services[name]["environment"])
        assert not missing, f"{name} lacks {missing} (deploy/dagster.docker.yaml reads them)"
    for name in ["daemon", *code_servers]:
        missing = mesh - set(services[name]["environment"])
        assert not missing, f"{name} lacks {missing} (mesh/orchestration/environment.py reads them in production)"
    docker_launcher = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())["run_launcher"]["config"]
    passed = set(docker_launcher["env_vars"])
    assert (instance | mesh) - passed == set(), "the Docker run launcher must pass these into runs"
    assert passed <= set(services["daemon"]["environment"]), "the daemon passes on what it has"
    ecs = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    # On ECS, AWS_* come from the task (region, task role) and secrets from Secrets Manager.
    expected = {v for v in instance | mesh if not v.startswith("AWS_")} - ECS_SECRETS
    assert set(ecs["env_vars"]) == expected
    assert ecs["secrets_tag"] == "dagster"


def test_docker_and_ecs_instances_differ_only_in_the_run_launcher():
    ecs = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    docker = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())
    assert ecs.pop("run_launcher")["class"] == "EcsRunLauncher"
    assert docker.pop("run_launcher")["class"] == "DockerRunLauncher"
    assert ecs == docker
    assert ecs["freshness"] == {"enabled": True} and ecs["telemetry"] == {"enabled": False}
    assert ecs["run_coordinator"]["class"] == "QueuedRunCoordinator" and "config" not in ecs["run_coordinator"]
    limits = ecs["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "mesh/domain", "value": {"applyLimitPerUniqueValue": True}, "limit": 3} in limits
    assert ecs["concurrency"]["pools"]["default_limit"] == 1


def test_the_instance_config_validates_and_builds_its_launcher_and_log_manager(tmp_path):
    """deploy/dagster.yaml through Dagster's own schema; the ECS launcher and S3 log manager are
    constructed (no AWS call is made until a run is launched or a log uploaded)."""
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import ConfigurableClassData
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {name: "5432" if name.endswith("_PORT") else "x" for name in instance_env_vars(DEPLOY / "dagster.yaml")}
    with mock.patch.dict(os.environ, {**env, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}):
        config, _ = dagster_instance_config(str(tmp_path))
        launcher = config["run_launcher"]
        built = ConfigurableClassData(launcher["module"], launcher["class"],
                                      yaml.safe_dump(launcher["config"])).rehydrate(EcsRunLauncher)
        assert built.container_name == "run" and built.secrets_tags == ["dagster"]
        logs = config["compute_logs"]
        manager = ConfigurableClassData(logs["module"], logs["class"],
                                        yaml.safe_dump(logs["config"])).rehydrate(S3ComputeLogManager)
        assert manager._s3_bucket == "x"
        manager.dispose()
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


@pytest.mark.slow
def test_a_domain_image_loads_its_code_location_without_any_setting(tmp_path):
    """The files the Dockerfile copies for one domain are enough to load its code location in
    production, with none of the production variables set: nothing is read at import time."""
    location = "sales"
    image = tmp_path / "image"
    for source, target in re.findall(r"^COPY (\S+) (\S+)$", dockerfile().split("AS domain", 1)[1], re.MULTILINE):
        source = source.replace("${DOMAIN}", location)
        destination = image / (source if target == "./" else target.replace("${DOMAIN}", location))
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, destination)
    assert not (image / "assets" / "customer").exists() and (image / "assets" / "sales").is_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "AWS_", "DAGSTER_PG"))}
    env |= {"MESH_ENV": "production", "MESH_PROJECT_DIR": str(image), "PYTHONPATH": str(image),
            "MESH_WORK_DIR": str(tmp_path / "work")}
    probe = (f"import mesh, mesh.locations as l; assert mesh.__file__.startswith({str(image)!r}), mesh.__file__; "
             f"d = getattr(l, {location!r}); print(sorted(k.to_user_string() for k in d.resolve_all_asset_keys()))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=image, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    keys = set(yaml.safe_load(done.stdout.strip().splitlines()[-1]))
    assert {"sales/orders", "sales/customer_revenue", "customer/customers"} <= keys
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("*.parquet"))
    assert shlex.split(dockerfile_command())[0] == "dagster"


def test_the_image_script_builds_what_compose_runs():
    done = subprocess.run([str(ROOT / "scripts" / "build-images.sh"), "--docker-launcher"], cwd=ROOT,
                          env={**os.environ, "DRY_RUN": "1"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    built = {line.split(" -t ")[1].split()[0]: line for line in done.stdout.splitlines()}
    services = compose()["services"]
    for location in workspace_locations():
        server = services[service(location)]
        assert f"--build-arg DOMAIN={location} " in built[server["image"]]
        for name, value in server["build"]["args"].items():
            if name != "DOMAIN":
                assert f"--build-arg {name}={value}" in built[server["image"]]
    assert "--target platform" in built[services["webserver"]["image"]]
