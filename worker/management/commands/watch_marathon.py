"""python manage.py watch_marathon: follow Marathon's event stream and keep jobs and deployments true."""
import signal
import threading

from django.core.management.base import BaseCommand

from worker.watcher import run_watcher


class Command(BaseCommand):
    help = (
        "Follow Marathon's /v2/events and move jobs and deployments to their real state. Several may run: one "
        "is active (PostgreSQL advisory lock), the others stand by and take over when it dies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--idle-timeout", type=float, default=None,
                            help="seconds of silence before reconnecting (default WATCHER_IDLE_TIMEOUT)")

    def handle(self, *args, **options):
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        run_watcher(stop_event=stop, idle_timeout=options.get("idle_timeout"))
