"""compose.yml and the Dockerfile, checked without a Docker engine: schema, commands, settings, dependencies."""
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from config.procfile import procfile_commands

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "data" / "compose-spec.json").read_text())
COMPOSE = yaml.safe_load((ROOT / "compose.yml").read_text())
SERVICES = COMPOSE["services"]
# What an operator puts in .env: the secrets compose.yml refuses to start without.
DOTENV = {"SECRET_KEY": "s" * 50, "POSTGRES_PASSWORD": "pw", "FLOWER_BASIC_AUTH": "admin:pw"}
OWN_SERVICES = [name for name, service in SERVICES.items() if "build" in service]
CLUSTER = ["zookeeper", "mesos-master", "mesos-agent", "marathon", "traefik"]

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value, env):
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""
    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    if isinstance(value, str):
        return _VARIABLE.sub(replace, value)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def service_env(name, dotenv=DOTENV):
    environment = SERVICES[name].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in interpolate(environment, dotenv).items()}


def test_compose_file_is_valid_against_the_compose_specification_schema():
    jsonschema.Draft201909Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft201909Validator(SCHEMA).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_rejects_a_broken_compose_file():
    broken = {"services": {"web": {"image": "x", "depends_on": {"db": {"condition": "service_ready"}}}}}
    assert list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(broken))


def test_the_expected_services_and_profiles_are_there():
    for name in ["postgres", "redis", "migrate", "web", "worker", "beat", "watcher", "flower"]:
        assert name in SERVICES and "profiles" not in SERVICES[name], name
    assert SERVICES["marathon-sim"]["profiles"] == ["sim"]
    assert "marathon" in SERVICES["marathon-sim"]["networks"]["default"]["aliases"]
    assert SERVICES["metronome-sim"]["profiles"] == ["sim"]
    assert "metronome" in SERVICES["metronome-sim"]["networks"]["default"]["aliases"]
    for name in CLUSTER:
        assert SERVICES[name]["profiles"] == ["cluster"], name


def test_every_procfile_process_runs_as_a_compose_service():
    commands = {name: SERVICES[name].get("command") for name in OWN_SERVICES}
    started = {cmd[3] for cmd in commands.values() if cmd and cmd[:3] == ["python", "-m", "config.procfile"]}
    # The simulators need a host address reachable from other containers; they are spelled out in compose.yml.
    assert set(procfile_commands()) - {"marathon", "metronome"} <= started
    assert SERVICES["marathon-sim"]["command"][:3] == ["python", "-m", "marathon_sim"]
    assert SERVICES["metronome-sim"]["command"][:3] == ["python", "-m", "metronome_sim"]


def _entry_point_exists(words):
    """The program a command line starts exists in this checkout: management command, module or Celery app."""
    program, rest = Path(words[0]).name, words[1:]
    if program == "python" and rest[:1] == ["manage.py"]:
        return any(ROOT.glob(f"*/management/commands/{rest[1]}.py")) or rest[1] in {"migrate", "check"}
    if program == "python" and rest[:1] == ["-m"]:
        return importlib.util.find_spec(rest[1]) is not None
    if program == "celery":
        module = rest[rest.index("-A") + 1]
        spec = importlib.util.find_spec(module)
        return spec is not None and "app = Celery(" in Path(spec.origin).read_text()
    if program == "gunicorn":
        return importlib.util.find_spec(rest[0].split(":")[0]) is not None
    return False


@pytest.mark.parametrize("name", OWN_SERVICES)
def test_every_service_command_exists(name):
    command = interpolate(SERVICES[name]["command"], DOTENV)
    if command[:3] == ["python", "-m", "config.procfile"]:
        process = command[3]
        line = procfile_commands()[process]
        words = shlex.split(re.sub(r"\$\{[^}]*\}|\$\$", "X", line))
    else:
        words = command
    assert _entry_point_exists(words), f"{name}: {' '.join(words)}"
    assert (Path(sys.executable).parent / Path(words[0]).name).exists() or words[0] == "python"


def test_every_procfile_entry_point_exists():
    for name, line in procfile_commands().items():
        words = shlex.split(re.sub(r"\$\{[^}]*\}|\$\$", "X", line))
        assert _entry_point_exists(words), f"{name}: {line}"


def test_compose_refuses_to_start_without_its_secrets():
    for secret in DOTENV:
        partial = {key: value for key, value in DOTENV.items() if key != secret}
        with pytest.raises(KeyError, match=secret):
            for name in ["web", "flower", "postgres"]:
                service_env(name, partial)


@pytest.mark.parametrize("name", [n for n in OWN_SERVICES if not n.endswith("-sim")])
def test_settings_load_with_only_the_service_environment(name):
    """Django starts with exactly what compose gives the container (no defaults from this machine)."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **service_env(name)}
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "assert not s.DEBUG; assert s.DATABASES['default']['HOST'] == 'postgres'; "
        "assert s.REDIS_URL == 'redis://redis:6379/0'; assert s.MARATHON_URLS == ['http://marathon:8080']; "
        "assert s.METRONOME_URLS == ['http://metronome:8090']; "
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
    assert env["SECRET_KEY"] and "SECRET_KEY" in SERVICES[name]["environment"]


def test_flower_has_credentials_and_persistent_state():
    env = service_env("flower")
    assert ":" in env["FLOWER_BASIC_AUTH"]
    assert env["FLOWER_DB"].startswith("/app/var/")
    assert "--persistent=True" in procfile_commands()["flower"]


def test_dependencies_wait_for_health_and_migrations():
    for name in ["web", "worker", "beat", "watcher"]:
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ["postgres", "redis", "web", "worker", "beat", "watcher", "flower", "marathon-sim", "metronome-sim"]:
        assert SERVICES[name]["healthcheck"]["test"], name


def test_third_party_images_are_pinned():
    for name, service in SERVICES.items():
        if "build" in service:
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image}"


def test_dockerfile_is_multi_stage_non_root_without_build_tools_in_the_final_image():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"(?m)^FROM ", text)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    assert "--from=build" in final
    user = re.search(r"(?m)^USER (\S+)", final)
    assert user and user.group(1).split(":")[0] not in ("root", "0")
    assert not re.search(r"build-essential|\bgcc\b|\bmake\b|-dev\b", final)
    assert "build-essential" in stages[0]
    cmd = json.loads(re.search(r"(?m)^CMD (.+)$", final).group(1))
    assert cmd[:3] == ["python", "-m", "config.procfile"] and cmd[3] in procfile_commands()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "var" in ignored and ".git" in ignored
