"""
Background jobs of the process objects. They take ids and call a service; the deletion is
idempotent, so a job run twice (or after its process is gone) does no harm.
"""

import uuid

from processes import services


def process_delete(process_id):
    return services.process_delete(process_id=uuid.UUID(str(process_id)))
