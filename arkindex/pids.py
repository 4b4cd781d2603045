"""Whether a process of this host still runs, for the commands that find one by its pid in a file."""

import os


def process_alive(pid):
    """True when `pid` runs (also as another user, which may not be signalled), False when it is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
