"""`manage.py load_demo_catalog`: add the demo apps that are missing from the catalog."""
from django.core.management.base import BaseCommand

from shared.services.demo import DEMO_APPS, demo_catalog_load


class Command(BaseCommand):
    help = "Load the demo catalog (idempotent: apps already present by name are left alone)."

    def handle(self, *args, **options):
        created = demo_catalog_load()
        skipped = len(DEMO_APPS) - len(created)
        self.stdout.write(f"demo catalog: {len(created)} app(s) created, {skipped} already present")
