"""The demo catalog `make run` loads: apps like the ancestor's examples, each with one configuration."""
from shared.errors import Conflict
from shared.models import App
from shared.services.catalog import app_create

DEMO_APPS = (
    {
        "name": "nginx-test",
        "description": "simple nginx container",
        "vcs_url": "https://github.com/nginxinc/docker-nginx",
        "docker_container": {"type": "docker", "image": "nginx", "ports": [80]},
        "marathon_configs": [{"cpu": "0.1", "memory": 64}],
    },
    {
        "name": "keycloak-demo",
        "description": "web app signing its users in with Keycloak (OpenID Connect)",
        "vcs_url": "https://github.com/keycloak/keycloak-quickstarts",
        "docker_container": {"type": "docker", "image": "maracker/keycloak-demo-app:latest", "ports": [5000]},
        "marathon_configs": [{"cpu": "0.25", "memory": 256,
                              "env_vars": {"KEYCLOAK_URL": "http://keycloak.apps.localhost/auth"}}],
    },
    {
        "name": "angular-demo",
        "description": "Angular single-page application served by its development server",
        "vcs_url": "https://github.com/angular/angular",
        "docker_container": {"type": "docker", "image": "maracker/angular-demo:latest", "ports": [8080]},
        "marathon_configs": [{"cpu": "0.5", "memory": 512}],
    },
    {
        "name": "webgl-demo",
        "description": "static WebGL demo served by nginx",
        "vcs_url": "https://github.com/mdn/webgl-examples",
        "docker_container": {"type": "docker", "image": "maracker/webgl-demo:latest", "ports": [80]},
        "marathon_configs": [{"cpu": "0.1", "memory": 64}],
    },
    {
        "name": "jupyter-demo",
        "description": "Jupyter notebook server",
        "vcs_url": "https://github.com/jupyter/docker-stacks",
        "docker_container": {"type": "docker", "image": "jupyter/base-notebook:latest", "ports": [8889]},
        "marathon_configs": [{"cpu": "1", "memory": 1024,
                              "args": ["start-notebook.sh", "--port=8889", "--ip=0.0.0.0"]}],
    },
    {
        "name": "python-http-server",
        "description": "command-only app: Python's built-in HTTP server on the port Marathon assigns",
        "command": "python -m http.server $PORT0",
        "marathon_configs": [{"cpu": "0.1", "memory": 32}],
    },
)


def demo_catalog_load():
    """Create the demo apps that are missing (by name); apps already there are left as they are.

    Returns the names created. Running it again creates nothing.
    """
    created = []
    existing = set(App.objects.filter(name__in=[app["name"] for app in DEMO_APPS]).values_list("name", flat=True))
    for data in DEMO_APPS:
        if data["name"] in existing:
            continue
        try:
            app_create(**data)
        except Conflict:  # another loader created it meanwhile
            continue
        created.append(data["name"])
    return created
