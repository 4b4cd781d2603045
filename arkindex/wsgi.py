"""WSGI entry point: `granian --interface wsgi arkindex.wsgi:application` (see the README)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arkindex.settings")

application = get_wsgi_application()

# Imported once Django is set up: the fast path reads models and settings.
from ponos.activity_fast_path import with_fast_paths  # noqa: E402

application = with_fast_paths(application)
