from django.core.management.base import BaseCommand, CommandError

from ledger.selectors import ledger_verify


class Command(BaseCommand):
    help = "Verify the ledger's invariants; exits non-zero on any drift."

    def handle(self, *args, **options):
        report = ledger_verify()
        self.stdout.write(
            f"accounts: {report.accounts}  transfers: {report.transfers}\n"
            f"stored balances: {report.total_stored}  derived balances: {report.total_derived}  "
            f"sum: {report.total}"
        )
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"DRIFT {problem}")
            raise CommandError(f"ledger check failed: {len(report.problems)} problem(s)")
        self.stdout.write(self.style.SUCCESS("ledger check: OK"))
