"""
Settings for the test suite: the server's own settings, with a Redis database of its own so that
jobs left by a test never reach a developer's queues, fast password hashing and in-memory email.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DEBUG", "false")
# Files written by the tests land in a folder of the run's own, removed at its end; the processes
# the tests start (job workers, agents) inherit it through the environment.
if "MEDIA_ROOT" not in os.environ:
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="arkindex-test-media-")
    atexit.register(shutil.rmtree, os.environ["MEDIA_ROOT"], ignore_errors=True)
os.environ.setdefault("ARKINDEX_ALLOW_DEFAULT_SECRET_KEY", "true")

from arkindex.settings import *  # noqa: E402,F403
from arkindex.settings import CACHES, DATABASES, RQ_QUEUES  # noqa: E402

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
REDIS_URL = TEST_REDIS_URL
for queue in RQ_QUEUES.values():
    queue["URL"] = TEST_REDIS_URL
CACHES["default"]["LOCATION"] = TEST_REDIS_URL

# A connection per request, as the test client and the live server expect; it also keeps the
# queries a request makes the same whatever ran before (no statement prepared by an earlier test).
DATABASES["default"]["CONN_MAX_AGE"] = 0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]  # noqa: F405
