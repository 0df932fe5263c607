"""The Marathon app definition of a catalog configuration: a pure function of the catalog entry and settings."""
import shlex
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class AppSpec:
    """What the catalog says about one configuration of one app, in plain values."""

    app_name: str
    config_id: int
    cpu: Decimal
    memory: int
    instances: int = 1
    image: str = ""
    ports: tuple = ()
    command: str = ""
    args: tuple = ()
    env_vars: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    health_check_path: str = "/"


@dataclass(frozen=True)
class DefinitionSettings:
    """The settings that shape every definition: id group, Marathon API flavour and exposure."""

    group: str = "/maracker"
    api_version: str = "1.5"
    exposure: str = "host"
    base_domain: str = "apps.localhost"
    scheme: str = "http"
    traefik: str = "both"
    traefik_entrypoint: str = "web"
    marathon_lb: bool = False

    @classmethod
    def from_settings(cls):
        from django.conf import settings

        return cls(
            group=settings.MARATHON_GROUP,
            api_version=settings.MARATHON_API_VERSION,
            exposure=settings.EXPOSURE,
            base_domain=settings.BASE_DOMAIN,
            scheme=settings.PUBLIC_SCHEME,
            traefik=settings.TRAEFIK_LABELS,
            traefik_entrypoint=settings.TRAEFIK_ENTRYPOINT,
            marathon_lb=settings.MARATHON_LB,
        )


class NotDeployable(ValueError):
    """The catalog entry cannot become a Marathon app (no image and no command)."""


def marathon_app_id(app_name, config_id, group="/maracker"):
    """`/maracker/<app-name>/<config-id>`: catalog names and ids are valid Marathon id segments."""
    return f"{group.rstrip('/')}/{app_name}/{int(config_id)}"


def router_name(app_name, config_id):
    # Config ids are digits only, so the last '-' always separates them: `web`+`12` and `web1`+`2`
    # become `maracker-web-12` and `maracker-web1-2`, which the ancestor collapsed into one name.
    return f"maracker-{app_name}-{int(config_id)}"


def public_host(spec, conf):
    if conf.exposure == "host":
        return f"{spec.app_name}-{int(spec.config_id)}.{conf.base_domain}"
    return conf.base_domain


def path_prefix(spec):
    return f"/apps/{spec.app_name}/{int(spec.config_id)}"


def public_url(spec, conf):
    """Where people reach the app once it runs, through the reverse proxy."""
    if conf.exposure == "host":
        return f"{conf.scheme}://{public_host(spec, conf)}/"
    return f"{conf.scheme}://{conf.base_domain}{path_prefix(spec)}/"


def exposure_labels(spec, conf):
    """Reverse-proxy labels for Traefik v1 and/or v2 (and marathon-lb when asked for)."""
    router = router_name(spec.app_name, spec.config_id)
    host = public_host(spec, conf)
    prefix = path_prefix(spec)
    labels = {}
    if conf.traefik in ("v1", "both"):
        labels["traefik.enable"] = "true"
        labels["traefik.backend"] = router
        # With hostPort 0 the port is only known per task: v1 takes the index, not a literal port.
        labels["traefik.portIndex"] = "0"
        labels["traefik.frontend.rule"] = f"Host:{host}" if conf.exposure == "host" else f"PathPrefixStrip:{prefix}"
    if conf.traefik in ("v2", "both"):
        labels["traefik.enable"] = "true"
        rule = f"Host(`{host}`)" if conf.exposure == "host" else f"Host(`{host}`) && PathPrefix(`{prefix}`)"
        labels[f"traefik.http.routers.{router}.rule"] = rule
        labels[f"traefik.http.routers.{router}.entrypoints"] = conf.traefik_entrypoint
        labels[f"traefik.http.routers.{router}.service"] = router
        # v2 finds the task's port itself; a literal port would be wrong with hostPort 0.
        labels[f"traefik.http.services.{router}.loadbalancer.passhostheader"] = "true"
        if conf.exposure == "path":
            labels[f"traefik.http.middlewares.{router}-strip.stripprefix.prefixes"] = prefix
            labels[f"traefik.http.routers.{router}.middlewares"] = f"{router}-strip"
    if conf.marathon_lb:
        labels["HAPROXY_GROUP"] = "external"
        labels["HAPROXY_0_VHOST"] = host
        if conf.exposure == "path":
            labels["HAPROXY_0_PATH"] = prefix
    return labels


def _command(spec):
    """`cmd` or `args`, never both: the ancestor sent both, or joined args without quoting."""
    command = spec.command.strip()
    args = [str(arg) for arg in spec.args]
    if command:
        cmd = " ".join([command] + [shlex.quote(arg) for arg in args])
        return {"cmd": cmd}
    if args:
        return {"args": args}
    if not spec.image:
        raise NotDeployable("the app has neither a Docker image nor a command")
    return {}


def build_app_definition(spec, conf=None):
    """The full Marathon app definition for one configuration; valid against Marathon's app schema."""
    conf = conf or DefinitionSettings()
    definition = {
        "id": marathon_app_id(spec.app_name, spec.config_id, conf.group),
        "cpus": float(spec.cpu),
        "mem": int(spec.memory),
        "instances": int(spec.instances),
        "env": {str(key): str(value) for key, value in spec.env_vars.items()},
        **_command(spec),
    }
    ports = [int(port) for port in spec.ports]
    if spec.image:
        mappings = [
            {"containerPort": port, "hostPort": 0, "protocol": "tcp", "name": f"port-{port}"} for port in ports
        ]
        docker = {"image": spec.image, "forcePullImage": False}
        container = {"type": "DOCKER", "docker": docker}
        if conf.api_version == "1.4":
            docker["network"] = "BRIDGE"
            docker["portMappings"] = mappings
        else:
            container["portMappings"] = mappings
            definition["networks"] = [{"mode": "container/bridge"}]
        definition["container"] = container
        has_port = bool(ports)
    else:
        # A command runs on the agent's network and gets its port as $PORT0.
        definition["portDefinitions"] = [{"port": 0, "protocol": "tcp", "name": "http"}]
        has_port = True
    if has_port and spec.health_check_path:
        definition["healthChecks"] = [
            {
                "protocol": "HTTP",
                "path": spec.health_check_path,
                "portIndex": 0,
                "gracePeriodSeconds": 300,
                "intervalSeconds": 30,
                "timeoutSeconds": 20,
                "maxConsecutiveFailures": 3,
            }
        ]
    labels = {str(key): str(value) for key, value in spec.labels.items()}
    labels.update(
        {"maracker.app": spec.app_name, "maracker.config": str(int(spec.config_id))}
    )
    if has_port:
        labels.update(exposure_labels(spec, conf))
    definition["labels"] = labels
    definition["upgradeStrategy"] = {"minimumHealthCapacity": 1, "maximumOverCapacity": 1}
    return definition
