"""
Fixtures of the cross-app tests: the real clients' environments (see `tests/clients.py`).

The environments are session fixtures: built at most once per run (and reused from
`.venv-clients/` across runs), only when a test asks for them, so that running any other test
never needs network access.
"""

import pytest

from tests import clients


@pytest.fixture(scope="session")
def worker_python():
    """`python` of the environment with `arkindex-base-worker` 0.6.0 and `arkindex-client` 1.3.0."""
    try:
        return clients.ensure_environment("worker", clients.WORKER_REQUIREMENTS)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def cli_python():
    """`python` of the environment with `arkindex-cli` 0.5.0 (and its own `arkindex-client` 1.3.0)."""
    try:
        return clients.ensure_environment("cli", clients.CLI_REQUIREMENTS)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def schemathesis_python():
    """`python` of the environment with schemathesis, the property-based API fuzzer."""
    try:
        return clients.ensure_environment("schemathesis", clients.SCHEMATHESIS_REQUIREMENTS)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def run_in_clients_env():
    """`run_in_clients_env(python, script_or_args, env=…, timeout=…)`, see `tests.clients`."""
    return clients.run_in_clients_env


# How long each recovery of the durability tests took, printed at the end of the run.
RECOVERY_TIMES = []


@pytest.fixture
def report_recovery():
    """`report_recovery(what, seconds)`: a figure for the summary of the run."""

    def report(what, seconds):
        RECOVERY_TIMES.append((what, seconds))

    return report


def pytest_terminal_summary(terminalreporter):
    if RECOVERY_TIMES:
        terminalreporter.section("recovery times")
        for what, seconds in RECOVERY_TIMES:
            terminalreporter.write_line(f"{seconds:6.1f} s  {what}")
