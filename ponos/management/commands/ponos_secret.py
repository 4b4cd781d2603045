"""
`manage.py ponos_secret set NAME [--file F | --value V]` and `manage.py ponos_secret delete NAME`.

Without `--file` or `--value`, `set` reads the content from standard input, which keeps it out of
the shell history and the process list. Contents are never printed nor logged.
"""

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ponos.secret_store import secret_delete, secret_set


class Command(BaseCommand):
    help = "Set or delete a secret given to workers by name (RetrieveSecret). Contents are never printed."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="action", required=True)
        set_parser = subparsers.add_parser("set", help="Create a secret or replace its content.")
        set_parser.add_argument("name")
        source = set_parser.add_mutually_exclusive_group()
        source.add_argument("--file", help="Read the content from this file (UTF-8 text).")
        source.add_argument("--value", help="The content itself (visible in the process list: prefer stdin).")
        delete_parser = subparsers.add_parser("delete", help="Delete a secret.")
        delete_parser.add_argument("name")

    def handle(self, *args, action, name, **options):
        if action == "delete":
            if not secret_delete(name=name):
                raise CommandError(f"No secret is named {name!r}.")
            self.stdout.write(f"Secret {name!r} deleted.")
            return

        if options.get("file"):
            try:
                with open(options["file"], "rb") as f:
                    value = f.read()
            except OSError as e:
                raise CommandError(f"Cannot read {options['file']}: {e.strerror}.") from None
        elif options.get("value") is not None:
            value = options["value"]
        else:
            value = sys.stdin.buffer.read()
        if not value:
            raise CommandError("The content is empty: give it with --file, --value or on standard input.")
        try:
            _, created = secret_set(name=name, value=value)
        except ValidationError as e:
            raise CommandError(
                " ".join(message for messages in e.message_dict.values() for message in messages)
            ) from None
        self.stdout.write(f"Secret {name!r} {'created' if created else 'updated'}.")
