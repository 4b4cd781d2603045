"""
Background jobs of the processes app, run as durable jobs (`arkindex.jobs`). Thin: they take ids
and call a service, which guards its own state, so a job run twice or after its process is gone
does no harm.
"""

import uuid

from django.dispatch import receiver

from arkindex.jobs import job_failed
from processes import services
from processes.models import Process
from processes.services import activities, results


def initialise_activities(process_id, reset=False):
    return activities.activities_initialise(process_id=uuid.UUID(str(process_id)), reset=reset)


def worker_results_delete(corpus_id, filters, scope=None):
    return results.worker_results_delete(
        corpus_id=uuid.UUID(str(corpus_id)), filters=results.ResultFilters(**filters), scope=scope
    )


def process_delete(process_id):
    return services.process_delete(process_id=uuid.UUID(str(process_id)))


@receiver(job_failed, sender=process_delete)
def process_deletion_failed(sender, job, **kwargs):
    """A process whose deletion failed for good comes back, its failure recorded on the job."""
    Process.objects.filter(pk=job.arguments[0]).update(deleting=None)


@receiver(job_failed, sender=initialise_activities)
def activity_initialisation_failed(sender, job, **kwargs):
    activities.activities_initialisation_failed(process_id=job.arguments[0])
