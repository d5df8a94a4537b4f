"""python manage.py run_feed: play simulated games live, ingesting every message as it happens."""

import argparse
import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from feed.ingest import Ingestor
from feed.simulator import FAULTS, SPORTS, Simulator
from feed.wire import dump


def _sports(value: str) -> list[str]:
    sports = [sport.strip() for sport in value.split(",") if sport.strip()]
    if not sports or set(sports) - set(SPORTS):
        raise argparse.ArgumentTypeError(f"sports are some of {', '.join(SPORTS)}")
    return sports


class Command(BaseCommand):
    help = "Run the simulated live-odds feed (N football and basketball games at an accelerated clock)."

    def add_arguments(self, parser):
        parser.add_argument("--games", type=int, default=3)
        parser.add_argument("--sports", type=_sports, default=list(SPORTS),
                            help=f"comma-separated, games dealt to them in turn (default {','.join(SPORTS)})")
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
                              ref_prefix=f"sim{start:%H%M%S}", sports=options["sports"])
        self.stdout.write(f"feed: {options['games']} games of {', '.join(options['sports'])}, seed {seed}, "
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
