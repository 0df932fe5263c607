"""App definitions as Marathon 1.5-1.7 reads them: reader type checks, normalisation, validator rules."""
import copy
import math
import re

ID_SEGMENT_RE = re.compile(r"(?:(?:[a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*(?:[a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])")
ID_PATTERN_TEXT = (
    "must fully match regular expression "
    "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'"
)
RESERVED_SEGMENTS = {"restart", "tasks", "versions"}
PORT_NAME_RE = re.compile(r"[a-z][a-z0-9-]*")
NETWORK_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
EXECUTOR_RE = re.compile(r"(|//cmd|/?[^/]+(/[^/]+)*)")
CMD_ARGS_RULE = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."

READ_ONLY_FIELDS = {
    "tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments",
    "lastTaskFailure", "readinessCheckResults", "taskStats", "counts", "versionInfo", "taskFailures",
}
HEALTH_PROTOCOLS = ["HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"]
MESOS_HEALTH = {"MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP", "COMMAND"}
CONSTRAINT_OPERATORS = ["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"]
SERVICE_PORT_MIN, SERVICE_PORT_MAX = 10000, 20000


class Rejected(Exception):
    """A request Marathon refuses: status, message and details, written as Marathon writes them."""

    def __init__(self, status, message, details=None, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra

    def body(self):
        body = {"message": self.message}
        if self.details is not None:
            body["details"] = self.details
        body.update(self.extra)
        return body


class _Errors:
    """Collects (path, error) pairs the way Play's JsError and Marathon's validator report them."""

    def __init__(self):
        self.items = {}

    def add(self, path, error):
        self.items.setdefault(path or "/", []).append(error)

    def __bool__(self):
        return bool(self.items)

    def details(self):
        return [{"path": path, "errors": errors} for path, errors in self.items.items()]


def canonical_id(raw, base="/"):
    """Marathon's PathId canonicalisation: relative ids resolve against base, '.' vanishes, '..' pops."""
    parts = [] if raw.startswith("/") else [p for p in base.split("/") if p]
    for segment in raw.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    return "/" + "/".join(parts)


def id_problem(app_id):
    """The validator's complaint about a canonical app id, or None."""
    if app_id == "/":
        return "Path must not be root"
    segments = app_id.strip("/").split("/")
    if not all(ID_SEGMENT_RE.fullmatch(s) for s in segments):
        return ID_PATTERN_TEXT
    if segments[-1] in RESERVED_SEGMENTS:
        return f"must not end with any of the following reserved keywords: {', '.join(sorted(RESERVED_SEGMENTS))}"
    return None


def parent_of(app_id):
    return app_id.rsplit("/", 1)[0] or "/"


# ---- reader: JSON types, enums and ranges ("Invalid JSON") -------------------------------------------------

def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_int(errs, path, v, minimum=None, maximum=None):
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not _is_int(v):
        errs.add(path, "error.expected.jsnumber" if not _is_num(v) else "error.expected.int")
        return
    if minimum is not None and v < minimum:
        errs.add(path, "error.min")
    if maximum is not None and v > maximum:
        errs.add(path, "error.max")


def _check_num(errs, path, v, minimum=None, maximum=None):
    if not _is_num(v):
        errs.add(path, "error.expected.jsnumber")
        return
    if minimum is not None and v < minimum:
        errs.add(path, "error.min")
    if maximum is not None and v > maximum:
        errs.add(path, "error.max")


def _check_str(errs, path, v, min_length=0, pattern=None):
    if not isinstance(v, str):
        errs.add(path, "error.expected.jsstring")
    elif len(v) < min_length:
        errs.add(path, "error.minLength")
    elif pattern is not None and not pattern.fullmatch(v):
        errs.add(path, "error.pattern")


def _check_bool(errs, path, v):
    if not isinstance(v, bool):
        errs.add(path, "error.expected.jsboolean")


def _check_enum(errs, path, v, values):
    if not isinstance(v, str):
        errs.add(path, "error.expected.jsstring")
    elif v not in values:
        errs.add(path, "error.unknown.enum.literal")


def _check_obj(errs, path, v):
    if not isinstance(v, dict):
        errs.add(path, "error.expected.jsobject")
        return False
    return True


def _check_arr(errs, path, v):
    if not isinstance(v, list):
        errs.add(path, "error.expected.jsarray")
        return False
    return True


def _check_str_list(errs, path, v):
    if _check_arr(errs, path, v):
        for i, item in enumerate(v):
            _check_str(errs, f"{path}({i})", item)


def _check_str_map(errs, path, v):
    if _check_obj(errs, path, v):
        for key, item in v.items():
            _check_str(errs, f"{path}/{key}", item)


def _check_port_mappings(errs, path, mappings):
    if not _check_arr(errs, path, mappings):
        return
    for i, pm in enumerate(mappings):
        p = f"{path}({i})"
        if not _check_obj(errs, p, pm):
            continue
        for key in ("containerPort", "hostPort", "servicePort"):
            if pm.get(key) is not None:
                _check_int(errs, f"{p}/{key}", pm[key], 0, 65535)
        if "protocol" in pm:
            _check_enum(errs, f"{p}/protocol", pm["protocol"], ["tcp", "udp", "udp,tcp"])
        if "name" in pm:
            _check_str(errs, f"{p}/name", pm["name"], 1, PORT_NAME_RE)
        if "labels" in pm:
            _check_str_map(errs, f"{p}/labels", pm["labels"])
        if "networkNames" in pm:
            _check_str_list(errs, f"{p}/networkNames", pm["networkNames"])


def read_checks(body, require_id=True):
    """Marathon's RAML reader: refuses JSON of the wrong type, unknown enum values and out-of-range numbers
    with 422 "Invalid JSON" and Play-style paths."""
    errs = _Errors()
    if "id" in body:
        _check_str(errs, "/id", body["id"], 1)
    elif require_id:
        errs.add("/id", "error.path.missing")
    if "cmd" in body and body["cmd"] is not None:
        _check_str(errs, "/cmd", body["cmd"], 1)
    if "args" in body and body["args"] is not None:
        _check_str_list(errs, "/args", body["args"])
    if "user" in body and body["user"] is not None:
        _check_str(errs, "/user", body["user"])
    if "env" in body and _check_obj(errs, "/env", body["env"]):
        for key, value in body["env"].items():
            if isinstance(value, dict):
                _check_str(errs, f"/env/{key}/secret", value.get("secret"), 1)
            else:
                _check_str(errs, f"/env/{key}", value)
    for key, minimum in (("cpus", 0.001), ("mem", 0), ("disk", 0), ("backoffFactor", 1.0)):
        if key in body:
            _check_num(errs, f"/{key}", body[key], minimum)
    for key in ("instances", "gpus", "backoffSeconds", "maxLaunchDelaySeconds", "taskKillGracePeriodSeconds"):
        if key in body and body[key] is not None:
            _check_int(errs, f"/{key}", body[key], 0)
    if "executor" in body:
        _check_str(errs, "/executor", body["executor"], 0, EXECUTOR_RE)
    if "requirePorts" in body:
        _check_bool(errs, "/requirePorts", body["requirePorts"])
    if "killSelection" in body:
        _check_enum(errs, "/killSelection", body["killSelection"], ["YOUNGEST_FIRST", "OLDEST_FIRST"])
    if "labels" in body:
        _check_str_map(errs, "/labels", body["labels"])
    for key in ("uris", "acceptedResourceRoles", "dependencies"):
        if key in body and body[key] is not None:
            _check_str_list(errs, f"/{key}", body[key])
    if "constraints" in body and _check_arr(errs, "/constraints", body["constraints"]):
        for i, c in enumerate(body["constraints"]):
            p = f"/constraints({i})"
            if not isinstance(c, list) or not 2 <= len(c) <= 3 or not all(isinstance(x, str) for x in c):
                errs.add(p, "error.expected.jsarray")
            elif c[1] not in CONSTRAINT_OPERATORS:
                errs.add(f"{p}(1)", "error.unknown.enum.literal")
    if "fetch" in body and _check_arr(errs, "/fetch", body["fetch"]):
        for i, f in enumerate(body["fetch"]):
            if _check_obj(errs, f"/fetch({i})", f):
                _check_str(errs, f"/fetch({i})/uri", f.get("uri"), 1)
    if "ports" in body and body["ports"] is not None and _check_arr(errs, "/ports", body["ports"]):
        for i, port in enumerate(body["ports"]):
            _check_int(errs, f"/ports({i})", port, 0, 65535)
    if "portDefinitions" in body and body["portDefinitions"] is not None:
        if _check_arr(errs, "/portDefinitions", body["portDefinitions"]):
            for i, pd in enumerate(body["portDefinitions"]):
                p = f"/portDefinitions({i})"
                if not _check_obj(errs, p, pd):
                    continue
                if "port" in pd:
                    _check_int(errs, f"{p}/port", pd["port"], 0, 65535)
                if "protocol" in pd:
                    _check_enum(errs, f"{p}/protocol", pd["protocol"], ["tcp", "udp", "udp,tcp"])
                if "name" in pd:
                    _check_str(errs, f"{p}/name", pd["name"], 1, PORT_NAME_RE)
                if "labels" in pd:
                    _check_str_map(errs, f"{p}/labels", pd["labels"])
    if "networks" in body and body["networks"] is not None and _check_arr(errs, "/networks", body["networks"]):
        for i, net in enumerate(body["networks"]):
            p = f"/networks({i})"
            if not _check_obj(errs, p, net):
                continue
            _check_enum(errs, f"{p}/mode", net.get("mode", "container"), ["container", "container/bridge", "host"])
            if "name" in net:
                _check_str(errs, f"{p}/name", net["name"], 1, NETWORK_NAME_RE)
            if "labels" in net:
                _check_str_map(errs, f"{p}/labels", net["labels"])
    container = body.get("container")
    if container is not None and _check_obj(errs, "/container", container):
        if "type" in container:
            _check_enum(errs, "/container/type", container["type"], ["DOCKER", "MESOS"])
        docker = container.get("docker")
        if docker is not None and _check_obj(errs, "/container/docker", docker):
            _check_str(errs, "/container/docker/image", docker.get("image"), 1)
            if "network" in docker:
                _check_enum(errs, "/container/docker/network", docker["network"], ["BRIDGE", "HOST", "NONE", "USER"])
            for key in ("privileged", "forcePullImage"):
                if key in docker:
                    _check_bool(errs, f"/container/docker/{key}", docker[key])
            if "parameters" in docker and _check_arr(errs, "/container/docker/parameters", docker["parameters"]):
                for i, par in enumerate(docker["parameters"]):
                    if _check_obj(errs, f"/container/docker/parameters({i})", par):
                        _check_str(errs, f"/container/docker/parameters({i})/key", par.get("key"), 1)
                        _check_str(errs, f"/container/docker/parameters({i})/value", par.get("value"))
            if "portMappings" in docker and docker["portMappings"] is not None:
                _check_port_mappings(errs, "/container/docker/portMappings", docker["portMappings"])
        if "portMappings" in container and container["portMappings"] is not None:
            _check_port_mappings(errs, "/container/portMappings", container["portMappings"])
        if "volumes" in container and _check_arr(errs, "/container/volumes", container["volumes"]):
            for i, vol in enumerate(container["volumes"]):
                if _check_obj(errs, f"/container/volumes({i})", vol):
                    _check_str(errs, f"/container/volumes({i})/containerPath", vol.get("containerPath"), 1)
                    if "mode" in vol:
                        _check_enum(errs, f"/container/volumes({i})/mode", vol["mode"], ["RO", "RW"])
    if "healthChecks" in body and _check_arr(errs, "/healthChecks", body["healthChecks"]):
        for i, hc in enumerate(body["healthChecks"]):
            p = f"/healthChecks({i})"
            if not _check_obj(errs, p, hc):
                continue
            if "protocol" in hc:
                _check_enum(errs, f"{p}/protocol", hc["protocol"], HEALTH_PROTOCOLS)
            for key in ("gracePeriodSeconds", "intervalSeconds", "timeoutSeconds", "maxConsecutiveFailures",
                        "delaySeconds", "portIndex"):
                if key in hc and hc[key] is not None:
                    _check_int(errs, f"{p}/{key}", hc[key], 0)
            if "port" in hc and hc["port"] is not None:
                _check_int(errs, f"{p}/port", hc["port"], 0, 65535)
            if "path" in hc:
                _check_str(errs, f"{p}/path", hc["path"])
            if "ignoreHttp1xx" in hc:
                _check_bool(errs, f"{p}/ignoreHttp1xx", hc["ignoreHttp1xx"])
            if "command" in hc and _check_obj(errs, f"{p}/command", hc["command"]):
                _check_str(errs, f"{p}/command/value", hc["command"].get("value"), 1)
    if "readinessChecks" in body and _check_arr(errs, "/readinessChecks", body["readinessChecks"]):
        for i, rc in enumerate(body["readinessChecks"]):
            if _check_obj(errs, f"/readinessChecks({i})", rc) and "protocol" in rc:
                _check_enum(errs, f"/readinessChecks({i})/protocol", rc["protocol"], ["HTTP", "HTTPS"])
    if "upgradeStrategy" in body and _check_obj(errs, "/upgradeStrategy", body["upgradeStrategy"]):
        for key in ("minimumHealthCapacity", "maximumOverCapacity"):
            if key in body["upgradeStrategy"]:
                _check_num(errs, f"/upgradeStrategy/{key}", body["upgradeStrategy"][key], 0, 1)
    if "unreachableStrategy" in body:
        us = body["unreachableStrategy"]
        if us != "disabled" and _check_obj(errs, "/unreachableStrategy", us):
            for key in ("inactiveAfterSeconds", "expungeAfterSeconds"):
                if key in us:
                    _check_int(errs, f"/unreachableStrategy/{key}", us[key], 0)
    if "secrets" in body and _check_obj(errs, "/secrets", body["secrets"]):
        for key, sec in body["secrets"].items():
            if _check_obj(errs, f"/secrets/{key}", sec):
                _check_str(errs, f"/secrets/{key}/source", sec.get("source"), 1)
    if "version" in body:
        _check_str(errs, "/version", body["version"], 1)
    if errs:
        raise Rejected(422, "Invalid JSON", errs.details())


# ---- normalisation (AppNormalization) and the validator ("Object is not valid") ----------------------------

def _norm_port_mapping(pm, mode, ports):
    out = {"containerPort": pm.get("containerPort") or 0}
    if pm.get("hostPort") is not None:
        out["hostPort"] = pm["hostPort"]
    elif mode == "container/bridge":
        out["hostPort"] = 0
    out["servicePort"] = ports.assign(pm.get("servicePort") or 0)
    out["protocol"] = pm.get("protocol", "tcp")
    for key in ("name", "labels", "networkNames"):
        if key in pm:
            out[key] = copy.deepcopy(pm[key])
    return out


def _norm_health_check(hc):
    protocol = hc.get("protocol", "HTTP")
    out = {"protocol": protocol}
    if protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
        out["path"] = hc.get("path", "/")
    if protocol == "COMMAND":
        out["command"] = copy.deepcopy(hc.get("command", {}))
    elif hc.get("port") is not None:
        out["port"] = hc["port"]
    else:
        out["portIndex"] = hc.get("portIndex") or 0
    out["gracePeriodSeconds"] = hc.get("gracePeriodSeconds", 300)
    out["intervalSeconds"] = hc.get("intervalSeconds", 60)
    out["timeoutSeconds"] = hc.get("timeoutSeconds", 20)
    out["maxConsecutiveFailures"] = hc.get("maxConsecutiveFailures", 3)
    if protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
        out["ignoreHttp1xx"] = hc.get("ignoreHttp1xx", False)
    if protocol in MESOS_HEALTH:
        out["delaySeconds"] = hc.get("delaySeconds", 15)
    return out


class ServicePorts:
    """Cluster-wide service port allocation from 10000-20000 (Marathon's local_port_min/max)."""

    def __init__(self):
        self.used = set()
        self._next = SERVICE_PORT_MIN

    def assign(self, port):
        if port:
            self.used.add(port)
            return port
        for _ in range(SERVICE_PORT_MAX - SERVICE_PORT_MIN + 1):
            candidate = self._next
            self._next = SERVICE_PORT_MIN if candidate >= SERVICE_PORT_MAX else candidate + 1
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate
        raise Rejected(422, "Object is not valid",
                       [{"path": "/", "errors": ["No free service port in 10000-20000"]}])

    def release(self, ports):
        self.used.difference_update(ports)


def service_ports_of(app):
    """The service ports an app definition holds."""
    found = [pd["port"] for pd in app.get("portDefinitions", []) if pd.get("port")]
    found += [pm["servicePort"] for pm in app.get("container", {}).get("portMappings", []) if pm.get("servicePort")]
    return found


def normalize(body, ports, app_id):
    """Turns a request body that passed the reader into the stored 1.5+ form, raising the validator's 422s.
    `ports` assigns service ports; `app_id` is the canonical id (from the body or the URL)."""
    errs = _Errors()
    problem = id_problem(app_id)
    if problem:
        errs.add("/id", problem)
    has_cmd = body.get("cmd") is not None
    has_args = body.get("args") is not None
    container_in = body.get("container")
    if (has_cmd and has_args) or (not has_cmd and not has_args and not container_in):
        errs.add("/", CMD_ARGS_RULE)
    docker_in = (container_in or {}).get("docker") or {}
    old_network = docker_in.get("network")
    networks_in = body.get("networks")
    if old_network and networks_in:
        errs.add("/", "must not specify both container.docker.network and networks")
    if body.get("ipAddress") and networks_in:
        errs.add("/", "ipAddress/discovery is not allowed for Marathon 1.5 and later: use networks instead")
    if body.get("uris") and body.get("fetch"):
        errs.add("/", "may not be set in conjunction with fetch")
    if container_in and container_in.get("type", "DOCKER") == "DOCKER" and not docker_in:
        errs.add("/container/docker", "must not be empty")

    # networks: the 1.4 form becomes the 1.5 form
    if networks_in:
        networks = [{k: copy.deepcopy(v) for k, v in n.items()} for n in networks_in]
        for n in networks:
            n.setdefault("mode", "container")
    elif old_network == "BRIDGE":
        networks = [{"mode": "container/bridge"}]
    elif old_network == "USER":
        name = (body.get("ipAddress") or {}).get("networkName")
        networks = [{"mode": "container", "name": name}] if name else [{"mode": "container"}]
    else:
        networks = [{"mode": "host"}]
    modes = [n["mode"] for n in networks]
    if len(modes) > 1 and ("host" in modes or "container/bridge" in modes):
        errs.add("/networks", "host and container/bridge networks may not be combined with other networks")
    mode = modes[0]

    mappings_in = None
    if container_in:
        if container_in.get("portMappings") is not None:
            mappings_in = container_in["portMappings"]
        elif docker_in.get("portMappings") is not None:
            mappings_in = docker_in["portMappings"]
    if mappings_in and mode == "host":
        errs.add("/", "portMappings are not allowed with host-networking")
    pdefs_in = body.get("portDefinitions")
    if pdefs_in is None and body.get("ports") is not None:
        pdefs_in = [{"port": p} for p in body["ports"]]
    if pdefs_in and mode != "host":
        errs.add("/", "portDefinitions are only allowed with host-networking")

    names = [pd.get("name") for pd in pdefs_in or [] if pd.get("name")]
    numbers = [pd.get("port") for pd in pdefs_in or [] if pd.get("port")]
    if len(numbers) != len(set(numbers)):
        errs.add("/portDefinitions", "Ports must be unique.")
    if len(names) != len(set(names)):
        errs.add("/portDefinitions", "Port names must be unique.")
    pm_names = [pm.get("name") for pm in mappings_in or [] if pm.get("name")]
    if len(pm_names) != len(set(pm_names)):
        errs.add("/container/portMappings", "Port names must be unique.")

    port_count = len(mappings_in or []) if mode != "host" else (1 if pdefs_in is None else len(pdefs_in))
    health_in = body.get("healthChecks") or []
    for i, hc in enumerate(health_in):
        proto = hc.get("protocol", "HTTP")
        if proto != "COMMAND" and hc.get("port") is None and (hc.get("portIndex") or 0) >= port_count:
            errs.add(f"/healthChecks({i})", "Health check port indices must address an element of the ports array "
                                            "or container port mappings.")
        if proto == "COMMAND" and not (hc.get("command") or {}).get("value"):
            errs.add(f"/healthChecks({i})/command", "must not be empty")
    if sum(1 for hc in health_in if hc.get("protocol", "HTTP") in MESOS_HEALTH) > 1:
        errs.add("/healthChecks", "AppDefinition can contain at most one Mesos health check")
    if len(body.get("readinessChecks") or []) > 1:
        errs.add("/readinessChecks", "size must be between 0 and 1")
    for key, value in (body.get("env") or {}).items():
        if isinstance(value, dict):
            errs.add(f"/env/{key}", "Feature secrets is not enabled. Enable with --enable_features secrets)")
    if body.get("secrets"):
        errs.add("/secrets", "Feature secrets is not enabled. Enable with --enable_features secrets)")
    if body.get("gpus"):
        errs.add("/gpus", "Feature gpu_resources is not enabled. Enable with --enable_features gpu_resources)")
    if errs:
        raise Rejected(422, "Object is not valid", errs.details())

    app = {"id": app_id}
    if has_cmd:
        app["cmd"] = body["cmd"]
    if has_args:
        app["args"] = list(body["args"])
    if body.get("user") is not None:
        app["user"] = body["user"]
    app["env"] = copy.deepcopy(body.get("env") or {})
    app["instances"] = int(body.get("instances", 1))
    app["cpus"] = body.get("cpus", 1)
    app["mem"] = body.get("mem", 128)
    app["disk"] = body.get("disk", 0)
    app["gpus"] = int(body.get("gpus") or 0)
    app["executor"] = body.get("executor", "")
    app["constraints"] = copy.deepcopy(body.get("constraints") or [])
    fetch = copy.deepcopy(body.get("fetch") or [])
    for uri in body.get("uris") or []:
        fetch.append({"uri": uri, "extract": True, "executable": False, "cache": False})
    app["fetch"] = [{"uri": f["uri"], "extract": f.get("extract", True), "executable": f.get("executable", False),
                     "cache": f.get("cache", False), **({"destPath": f["destPath"]} if "destPath" in f else {})}
                    for f in fetch]
    app["backoffSeconds"] = int(body.get("backoffSeconds", 1))
    app["backoffFactor"] = body.get("backoffFactor", 1.15)
    app["maxLaunchDelaySeconds"] = int(body.get("maxLaunchDelaySeconds", 300))
    if container_in:
        ctype = container_in.get("type", "DOCKER")
        container = {"type": ctype}
        if docker_in:
            docker = {"image": docker_in["image"], "forcePullImage": docker_in.get("forcePullImage", False)}
            if ctype == "DOCKER":
                docker["privileged"] = docker_in.get("privileged", False)
                docker["parameters"] = copy.deepcopy(docker_in.get("parameters") or [])
            for key in ("pullConfig", "credential"):
                if key in docker_in:
                    docker[key] = copy.deepcopy(docker_in[key])
            container["docker"] = docker
        container["volumes"] = copy.deepcopy(container_in.get("volumes") or [])
        if mode != "host":
            container["portMappings"] = [_norm_port_mapping(pm, mode, ports) for pm in mappings_in or []]
        app["container"] = container
    elif mode != "host":
        app["container"] = {"type": "MESOS", "volumes": [],
                            "portMappings": [_norm_port_mapping(pm, mode, ports) for pm in mappings_in or []]}
    app["healthChecks"] = [_norm_health_check(hc) for hc in health_in]
    app["readinessChecks"] = copy.deepcopy(body.get("readinessChecks") or [])
    base = parent_of(app_id)
    app["dependencies"] = [canonical_id(d, base) for d in body.get("dependencies") or []]
    strategy = body.get("upgradeStrategy") or {}
    app["upgradeStrategy"] = {"minimumHealthCapacity": strategy.get("minimumHealthCapacity", 1),
                              "maximumOverCapacity": strategy.get("maximumOverCapacity", 1)}
    app["labels"] = dict(body.get("labels") or {})
    if body.get("acceptedResourceRoles") is not None:
        app["acceptedResourceRoles"] = list(body["acceptedResourceRoles"])
    app["killSelection"] = body.get("killSelection", "YOUNGEST_FIRST")
    app["unreachableStrategy"] = copy.deepcopy(
        body.get("unreachableStrategy", {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}))
    app["requirePorts"] = body.get("requirePorts", False)
    if body.get("taskKillGracePeriodSeconds") is not None:
        app["taskKillGracePeriodSeconds"] = body["taskKillGracePeriodSeconds"]
    if body.get("residency") is not None:
        app["residency"] = copy.deepcopy(body["residency"])
    app["secrets"] = {}
    app["networks"] = networks
    if mode == "host":
        if pdefs_in is None:
            pdefs_in = [{"port": 0, "name": "default"}]
        app["portDefinitions"] = [
            {"port": ports.assign(pd.get("port") or 0), "protocol": pd.get("protocol", "tcp"),
             **({"name": pd["name"]} if pd.get("name") else {}), "labels": dict(pd.get("labels") or {})}
            for pd in pdefs_in]
    return app


def merge_update(stored, update):
    """A partial update (PUT/PATCH with partialUpdate): the given top-level fields replace the stored ones."""
    merged = {k: copy.deepcopy(v) for k, v in stored.items() if k not in ("version", "versionInfo")}
    for key, value in update.items():
        if key in READ_ONLY_FIELDS or key == "id":
            continue
        merged[key] = copy.deepcopy(value)
    if "cmd" in update and update["cmd"] is not None and "args" not in update:
        merged.pop("args", None)
    if "args" in update and update["args"] is not None and "cmd" not in update:
        merged.pop("cmd", None)
    container = update.get("container") or {}
    if (container.get("docker") or {}).get("network") and "networks" not in update:
        merged.pop("networks", None)
    if "ports" in update and "portDefinitions" not in update:
        merged.pop("portDefinitions", None)
    if "networks" in update or (container.get("docker") or {}).get("network"):
        new_modes = [n.get("mode", "container") for n in update.get("networks") or []]
        old_net = (container.get("docker") or {}).get("network")
        host = (new_modes and new_modes[0] == "host") or old_net == "HOST" or (not new_modes and not old_net)
        if not host and "portDefinitions" not in update:
            merged.pop("portDefinitions", None)
        if host and "container" not in update and isinstance(merged.get("container"), dict):
            merged["container"].pop("portMappings", None)
    return merged


def config_part(app):
    """The part of a definition whose change means a restart (everything but instances and versions)."""
    return {k: v for k, v in app.items() if k not in ("instances", "version", "versionInfo")}


def is_failing_image(app):
    """Simulator convention: an image naming 'fail' or the registry host registry.invalid never starts."""
    image = ((app.get("container") or {}).get("docker") or {}).get("image") or ""
    return "fail" in image or image.startswith("registry.invalid/")


def is_unhealthy_image(app):
    """Simulator convention: an image naming 'unhealthy' starts but fails its health checks."""
    image = ((app.get("container") or {}).get("docker") or {}).get("image") or ""
    return "unhealthy" in image
