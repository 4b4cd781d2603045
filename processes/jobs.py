"""
Background jobs of the processes app. Thin: they take ids and call a service, which guards its
own state, so a job run twice or after its process is gone does no harm.
"""

import uuid

from processes import activities, results


def initialise_activities(process_id, reset=False):
    return activities.activities_initialise(process_id=uuid.UUID(str(process_id)), reset=reset)


def worker_results_delete(corpus_id, filters, scope=None):
    return results.worker_results_delete(
        corpus_id=uuid.UUID(str(corpus_id)), filters=results.ResultFilters(**filters), scope=scope
    )
