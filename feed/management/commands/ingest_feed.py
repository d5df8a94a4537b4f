"""python manage.py ingest_feed FILE|-: replay a recorded feed (one JSON message per line)."""

import io
import sys

from django.core.management.base import BaseCommand

from feed.ingest import Ingestor


class Command(BaseCommand):
    help = "Ingest a recorded feed file (or - for standard input); bad lines are refused and counted."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        # Bytes that are not UTF-8 become lone surrogates, which the parser refuses line by line.
        stream = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape") if path == "-"
                  else open(path, encoding="utf-8", errors="surrogateescape"))  # noqa: SIM115
        with stream:
            ingestor = Ingestor().ingest(stream)
        self.stdout.write(f"applied: {sum(ingestor.applied.values())} {dict(ingestor.applied)}")
        self.stdout.write(f"refused: {sum(ingestor.refused.values())} {dict(ingestor.refused)}")
