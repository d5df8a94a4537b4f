"""python manage.py run_feed: play simulated games live, ingesting every message as it happens."""

import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from oddslab.feed.ingest import Ingestor
from oddslab.feed.simulator import FAULTS, Simulator
from oddslab.feed.wire import dump


class Command(BaseCommand):
    help = "Run the simulated live-odds feed (N football games at an accelerated clock)."

    def add_arguments(self, parser):
        parser.add_argument("--games", type=int, default=3)
        parser.add_argument("--seed", type=int, default=None, help="replay a run exactly (default: time-based)")
        parser.add_argument("--minute-seconds", type=float, default=6.0,
                            help="real seconds per game minute (default 6: 90 minutes in 9)")
        parser.add_argument("--record", help="also write every line to this file (replay with ingest_feed)")
        parser.add_argument("--fault", action="append", choices=sorted(FAULTS), default=[],
                            help="inject a fault; may be repeated")
        parser.add_argument("--loop", action="store_true", help="start new games when these end")

    def handle(self, *args, **options):
        seed = options["seed"] if options["seed"] is not None else int(time.time())
        record = open(options["record"], "w") if options["record"] else None  # noqa: SIM115
        ingestor = Ingestor()
        try:
            while True:
                self._run(seed, options, ingestor, record)
                if not options["loop"]:
                    break
                seed += 1
        except KeyboardInterrupt:
            pass
        finally:
            if record:
                record.close()
        self.stdout.write(f"applied: {dict(ingestor.applied)}\nrefused: {dict(ingestor.refused)}")

    def _run(self, seed, options, ingestor, record):
        start = timezone.now()
        simulator = Simulator(games=options["games"], seed=seed, faults=set(options["fault"]), start=start,
                              ref_prefix=f"sim{start:%H%M%S}")
        self.stdout.write(f"feed: {options['games']} games, seed {seed}, "
                          f"{options['minute_seconds']} s per game minute", )
        began = time.monotonic()
        for at, message in simulator.messages():
            delay = began + at * options["minute_seconds"] - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            line = message if isinstance(message, str) else dump(message)
            if record:
                record.write(line + "\n")
                record.flush()
            ingestor.line(line)
