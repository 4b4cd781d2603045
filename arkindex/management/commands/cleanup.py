from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from arkindex.cleanup import cleanup


class Command(BaseCommand):
    help = (
        "Remove what the instance no longer needs: exports older than the retention, the logs and artifacts of "
        "processes that ended before it (never those of dataset processes), and files of the storage that no "
        "object owns any more. --dry-run says what would go, and how much space, without deleting anything."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=settings.CLEANUP_RETENTION_DAYS,
            help=f"Keep what is younger than this many days (default {settings.CLEANUP_RETENTION_DAYS}).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would be deleted; delete nothing.")

    def handle(self, *args, days, dry_run, **options):
        if days < 1:
            raise CommandError("--days must be at least 1: cleanup never removes what was just made.")
        self.stdout.write(
            f"{'Dry run: nothing is deleted. ' if dry_run else ''}Cleaning what is older than {days} day(s)…"
        )
        summary = cleanup(days=days, dry_run=dry_run, out=lambda line: (self.stdout.write(line), self.stdout.flush()))
        if summary.errors:
            raise CommandError(f"{summary.errors} object(s) or file(s) could not be deleted: see the log.")
