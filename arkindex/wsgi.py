"""WSGI entry point: `granian --interface wsgi arkindex.wsgi:application` (see the README)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arkindex.settings")

application = get_wsgi_application()
