"""
The real Arkindex clients, each in a virtual environment of its own.

`arkindex-client`, `arkindex-base-worker` and `arkindex-cli` import a top-level package named
`arkindex`, like this project: they can never be installed next to the server. The base worker
and the CLI pin different versions of `teklia-toolbox`, so they cannot share an environment either.
Each gets a virtual environment built once and reused between test runs, under
`.venv-clients/<name>-<key>/` (ignored by git), where the key hashes the pinned requirements and the
interpreter: bumping a pin or the Python version builds a fresh environment beside the old one.

Building is safe when interrupted (a marker file is written only after `pip install` succeeded; an
environment without it is rebuilt from scratch) and when several pytest processes start at once
(an exclusive `fcntl` lock per environment: the second process waits and then reuses the result).

Client code always runs as a subprocess with `run_in_clients_env`, from a scratch working
directory and without `PYTHONPATH`, so that `import arkindex` finds the client, never this project.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent

# The base worker pins arkindex-client 1.3.0; the CLI pins the same client with another toolbox.
WORKER_REQUIREMENTS = ("arkindex-base-worker==0.6.0",)
CLI_REQUIREMENTS = ("arkindex-cli==0.5.0",)
# The fuzzer runs against a live server like any client: apart from the server's dependencies.
SCHEMATHESIS_REQUIREMENTS = ("schemathesis==4.32.5",)

# CI may cache the environments elsewhere (for example a cache directory outside the clone).
CLIENTS_DIR = Path(os.environ.get("ARKINDEX_CLIENTS_VENV_DIR", REPOSITORY_ROOT / ".venv-clients"))

MARKER_NAME = ".installed.json"
INSTALL_TIMEOUT = 1800

# Variables of the developer's shell that would change what the clients do or import.
SCRUBBED_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
SCRUBBED_PREFIXES = ("ARKINDEX_", "PONOS_", "TASK_", "WORKER_")


def base_python():
    """
    The interpreter the pytest process runs on, outside of its own virtual environment: a venv
    made from another venv's `python` would still work, but naming the base makes the key stable.
    """
    return Path(getattr(sys, "_base_executable", None) or sys.executable).resolve()


def environment_key(requirements):
    description = {
        "requirements": sorted(requirements),
        "python": list(sys.version_info[:3]),
        "interpreter": str(base_python()),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:12]


def environment_python(venv):
    return venv / "bin" / "python"


def _text(output):
    """`TimeoutExpired` keeps bytes even for text-mode processes."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _run_logged(args, *, timeout, what):
    """Run a build step; on failure, show everything it printed (pip's resolver output is long)."""
    try:
        process = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{what} timed out after {timeout}s:\n{_text(e.stdout)}\n{_text(e.stderr)}") from e
    if process.returncode != 0:
        raise RuntimeError(
            f"{what} failed with exit code {process.returncode}:\n"
            f"--- stdout ---\n{process.stdout}\n--- stderr ---\n{process.stderr}"
        )
    return process


def ensure_environment(name, requirements):
    """
    Return the `python` of a virtual environment holding `requirements`, building it if needed.
    """
    requirements = tuple(requirements)
    venv = CLIENTS_DIR / f"{name}-{environment_key(requirements)}"
    marker = venv / MARKER_NAME
    python = environment_python(venv)
    CLIENTS_DIR.mkdir(parents=True, exist_ok=True)

    with open(CLIENTS_DIR / f"{venv.name}.lock", "w") as lock:
        # Blocks while another pytest process builds the same environment; it is complete after.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists() and python.exists():
                return python

            # Whatever is there was left by an interrupted build: start again from nothing.
            shutil.rmtree(venv, ignore_errors=True)
            started = time.monotonic()
            print(f"Building the clients' environment {venv} with {', '.join(requirements)}…", file=sys.stderr)
            _run_logged(
                [str(base_python()), "-m", "venv", str(venv)],
                timeout=300,
                what=f"Creating the virtual environment {venv}",
            )
            _run_logged(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *requirements],
                timeout=INSTALL_TIMEOUT,
                what=f"Installing {', '.join(requirements)} in {venv}",
            )
            freeze = _run_logged([str(python), "-m", "pip", "freeze"], timeout=120, what="pip freeze")
            marker.write_text(
                json.dumps(
                    {"requirements": list(requirements), "installed": freeze.stdout.split()},
                    indent=2,
                )
            )
            print(f"Built {venv} in {time.monotonic() - started:.0f}s", file=sys.stderr)
            return python
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def clients_env(extra=None):
    """
    The environment of a client subprocess: the current one without anything that could point the
    clients at another server, token or package, plus `extra`.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED_VARIABLES and not key.startswith(SCRUBBED_PREFIXES)
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in (extra or {}).items()})
    return env


def format_output(process):
    return (
        f"$ {' '.join(map(str, process.args))}\nexit code {process.returncode}\n"
        f"--- stdout ---\n{process.stdout}\n--- stderr ---\n{process.stderr}"
    )


def run_in_clients_env(python, script_or_args, env=None, timeout=300, check=True, cwd=None):
    """
    Run a Python script (source text) or arguments (a list, e.g. `["-m", "arkindex_cli", …]`) with
    a clients' environment `python`.

    Scripts are written to a file in a scratch directory rather than passed with `-c`, so that
    tracebacks show source lines and the working directory (which `-c` puts on `sys.path`) never
    is this repository. Output is printed when the process fails (pytest shows it with the failure);
    with `check` (default) a non-zero exit code fails the test.
    """
    with tempfile.TemporaryDirectory(prefix="arkindex-client-") as scratch:
        if isinstance(script_or_args, str):
            script = Path(scratch) / "client_script.py"
            script.write_text(script_or_args)
            args = [str(python), str(script)]
        else:
            args = [str(python), *map(str, script_or_args)]
        try:
            process = subprocess.run(
                args,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=clients_env(env),
                cwd=cwd or scratch,
            )
        except subprocess.TimeoutExpired as e:
            print(f"--- stdout ---\n{_text(e.stdout)}\n--- stderr ---\n{_text(e.stderr)}")
            pytest.fail(f"{' '.join(args)} did not finish within {timeout}s")
    if process.returncode != 0:
        print(format_output(process))
        if check:
            pytest.fail(f"Client subprocess failed with exit code {process.returncode}:\n{format_output(process)}")
    return process
