"""Whether a Docker engine answers here: the tests of the Docker executor run only where one does."""

import docker
import pytest


def docker_engine_error():
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        docker.from_env().ping()
    except Exception as error:
        return str(error) or type(error).__name__
    return None


ENGINE_ERROR = docker_engine_error()
needs_engine = pytest.mark.skipif(
    ENGINE_ERROR is not None, reason=f"No Docker engine answers on this machine: {ENGINE_ERROR}"
)
