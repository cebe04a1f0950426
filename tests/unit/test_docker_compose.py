"""docker-compose.yml cannot run here (no Docker engine), so hold it to the code:
every command it gives the Connect image must parse as a `connect` command, and
every CONNECT_* variable it passes must be a setting some class reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from connect.cli import app
from connect.settings import SERVICES, all_setting_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES_BY_NAME: dict[str, dict[str, Any]] = COMPOSE["services"]
CONNECT_ROLES = {name: spec for name, spec in SERVICES_BY_NAME.items()
                 if spec.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def _environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def _resolve(args: list[str]) -> tuple[list[str], Any]:
    """Walk the Typer tree like the shell would; parse the leaf's options for real."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "commands"):  # a group (Typer ships its own copy of click)
        assert rest, f"{args} stops at the group {' '.join(path) or 'connect'}"
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`connect {' '.join(path)}` has no command {name!r}: {args}"
        path.append(name)
        command = sub
    # make_context parses (and rejects unknown options or bad values) without invoking.
    return path, command.make_context(" ".join(["connect", *path]), rest)


def test_every_role_command_is_a_real_connect_command() -> None:
    assert CONNECT_ROLES, "no service is built from deploy/Dockerfile"
    seen_roles = set()
    for name, spec in CONNECT_ROLES.items():
        path, ctx = _resolve([str(arg) for arg in spec["command"]])
        if path[0] == "run":
            seen_roles.add(path[1])
        if path == ["run", "api"]:
            assert set(ctx.params["service"]) <= set(SERVICES), name
    # The roles the distributed shape promises each have a container.
    assert {"api", "portal", "relay", "notifier", "indexer", "projector", "ops", "worker", "beat"} <= seen_roles
    api_services = {s for spec in CONNECT_ROLES.values() if spec["command"][:2] == ["run", "api"]
                    for s in _resolve(spec["command"])[1].params["service"]}
    assert {"matching", "relationships"} <= api_services


def test_a_misspelt_command_would_fail_the_check() -> None:
    with pytest.raises(AssertionError):
        _resolve(["run", "notifer"])
    with pytest.raises(Exception, match="No such option"):
        _resolve(["run", "api", "--servce", "matching"])


def test_every_connect_setting_passed_is_a_real_setting() -> None:
    from portal.settings import PortalSettings

    known = all_setting_names() | {f"CONNECT_{name.upper()}" for name in PortalSettings.model_fields}
    for name, spec in CONNECT_ROLES.items():
        env = _environment(spec)
        unknown = {var for var in env if var.startswith("CONNECT_")} - known
        assert not unknown, f"{name} passes settings nothing reads: {sorted(unknown)}"
        for service in SERVICES:
            assert f"CONNECT_{service.upper()}_DATABASE_URL" in env, (name, service)
        assert env["CONNECT_SEARCH_URL"].startswith("elasticsearch+http://elasticsearch:")
        assert env["CONNECT_SMTP_URL"].startswith("smtp://mailpit:")


def test_each_service_database_is_created_by_the_postgres_init_script() -> None:
    postgres = SERVICES_BY_NAME["postgres"]
    mounts = [volume.split(":") for volume in postgres["volumes"] if volume.startswith("./")]
    init_dirs = [ROOT / host for host, container, *_ in mounts if container == "/docker-entrypoint-initdb.d"]
    assert init_dirs and init_dirs[0].is_dir()
    sql = " ".join(path.read_text() for path in init_dirs[0].glob("*.sql"))
    created = set(re.findall(r"CREATE DATABASE (\w+)", sql, flags=re.IGNORECASE))
    env = _environment(CONNECT_ROLES["migrate"])
    for service in SERVICES:
        database = env[f"CONNECT_{service.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
        assert database in created, service


def test_roles_start_after_migrations_and_engines_exist() -> None:
    assert (ROOT / "deploy" / "Dockerfile").is_file()
    for name, spec in CONNECT_ROLES.items():
        for dependency in spec.get("depends_on") or {}:
            assert dependency in SERVICES_BY_NAME, (name, dependency)
        if spec["command"][0] == "run":
            assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    engines = {"elasticsearch", "kibana", "kafka", "postgres", "redis", "mailpit"}
    assert engines <= set(SERVICES_BY_NAME)
    # Exactly one scheduler: two beats would fire every periodic job twice.
    beats = [name for name, spec in CONNECT_ROLES.items() if spec["command"][:2] == ["run", "beat"]]
    assert len(beats) == 1 and not SERVICES_BY_NAME[beats[0]].get("deploy", {}).get("replicas")


def test_every_api_signs_page_cursors_with_the_same_key() -> None:
    """A cursor one API process hands out must open on every other (connect/cursors.py): the
    same CONNECT_CURSOR_SECRET, or the same var folder on the same volume, where the key is kept."""
    apis = {name: spec for name, spec in CONNECT_ROLES.items() if spec["command"][:2] == ["run", "api"]}
    assert len(apis) >= 2
    secrets = {_environment(spec).get("CONNECT_CURSOR_SECRET") for spec in apis.values()}
    if secrets != {None}:
        assert len(secrets) == 1 and None not in secrets, secrets
        return
    homes = {(_environment(spec).get("CONNECT_VAR_DIR"),
              tuple(sorted(v for v in spec.get("volumes", []) if v.endswith(":" + str(_environment(spec).get(
                  "CONNECT_VAR_DIR")))))) for spec in apis.values()}
    assert len(homes) == 1, homes
    [(var_dir, volumes)] = homes
    assert var_dir and volumes, "the APIs keep the cursor key on no shared volume"


def test_elasticsearch_and_kibana_run_the_release_the_tests_run() -> None:
    from stack.engines.elasticsearch import image, version

    assert SERVICES_BY_NAME["elasticsearch"]["image"] == image()
    assert SERVICES_BY_NAME["kibana"]["image"] == f"kibana:{version()}"
    assert version().startswith("8.19.")


def test_the_image_holds_every_runtime_package_and_leaves_the_tooling_out() -> None:
    import tomllib

    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*") for pattern in wanted["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "deploy" / "Dockerfile").read_text(), flags=re.M))
    # `pip install .` in the image finds only what was copied: a runtime package left out installs
    # nothing and the roles that import it fail at start.
    assert copied == packages - {"stack"} | {"deploy"}
