"""Import a Boutiques descriptor as a catalog app: its image, environment, inputs and a default configuration."""
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from shared import boutiques
from shared.errors import Unprocessable
from shared.models import MarathonConfig
from shared.services.catalog import app_create


def _resources(descriptor):
    """cpu and memory (MiB) from the descriptor's suggested-resources, else the import defaults."""
    suggested = descriptor.get("suggested-resources") or {}
    cpu = suggested.get("cpu-cores") or settings.IMPORT_DEFAULT_CPU
    ram_gb = suggested.get("ram")
    memory = int(ram_gb * 1024) if isinstance(ram_gb, (int, float)) and ram_gb > 0 else settings.IMPORT_DEFAULT_MEMORY
    return Decimal(str(cpu)).quantize(Decimal("0.001")), max(memory, 32)


def app_import_boutiques(descriptor, *, owner=None):
    """Validate a descriptor (Boutiques' schema and checks) and create its app, all or nothing.

    Bad descriptors raise Unprocessable (422) listing every validation error, by path.
    """
    errors = boutiques.descriptor_errors(descriptor)
    name = boutiques.app_name(descriptor) if not errors else ""
    if not errors and not name:
        errors.append({"path": "name", "message": "The name gives no usable app name (letters or digits needed)."})
    if errors:
        by_field = {}
        for item in errors:
            by_field.setdefault(f"descriptor.{item['path']}", []).append(item["message"])
        raise Unprocessable("The Boutiques descriptor is not valid.", code="invalid_descriptor", errors=by_field,
                            validation_errors=errors)
    cpu, memory = _resources(descriptor)
    with transaction.atomic():
        app = app_create(
            name=name,
            description=str(descriptor.get("description") or "")[:10000],
            docker_container={"image": descriptor["container-image"]["image"], "ports": []},
            marathon_configs=[{"cpu": cpu, "memory": memory, "env_vars": boutiques.environment(descriptor)}],
            actor=owner,  # the owner, and who the audit log names
        )
        app.boutiques_descriptor = descriptor
        app.owner = owner
        app.save(update_fields=["boutiques_descriptor", "owner", "updated_at"])
        MarathonConfig.objects.filter(app=app).update(inputs=boutiques.default_inputs(descriptor))
    return app
