"""
Background jobs of the documents app, run as durable jobs (`arkindex.jobs`). They take ids and
call a service; both services are idempotent, so a job run twice (or after its object is gone)
does no harm.
"""

import uuid

from django.dispatch import receiver

from arkindex.jobs import job_failed
from arkindex.models import Job
from documents import services
from documents.models import Corpus
from documents.services import search


def corpus_delete(corpus_id):
    return services.corpus_delete(corpus_id=uuid.UUID(str(corpus_id)))


def element_delete(element_id):
    return services.element_delete(element_id=uuid.UUID(str(element_id)))


def corpus_reindex(corpus_id):
    # Changes from now on need another run: a later request makes a new job instead of this one.
    Job.objects.filter(key=search.reindex_key(corpus_id)).update(key=None)
    return search.reindex_corpus(uuid.UUID(str(corpus_id)))


@receiver(job_failed, sender=corpus_delete)
def corpus_deletion_failed(sender, job, **kwargs):
    """A corpus whose deletion failed for good comes back, its failure recorded on the job."""
    Corpus.objects.filter(pk=job.arguments[0]).update(deleting=None)
