"""
Background jobs of the documents app. They take ids and call a service; both services are
idempotent, so a job run twice (or after its object is gone) does no harm.
"""

import uuid

from documents import services


def corpus_delete(corpus_id):
    return services.corpus_delete(corpus_id=uuid.UUID(str(corpus_id)))


def element_delete(element_id):
    return services.element_delete(element_id=uuid.UUID(str(element_id)))
