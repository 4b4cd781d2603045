"""
Background jobs of the datasets app, run as durable jobs (`arkindex.jobs`): building an export.
"""

import logging

from django.dispatch import receiver

from arkindex.jobs import job_failed
from datasets.models import CorpusExport
from datasets.services import exports

logger = logging.getLogger(__name__)


def export_build(export_id):
    """
    The durable job building an export recorded by `export_start`. Only one attempt of it runs at a
    time (`arkindex.jobs`): an export it finds running lost the worker of an earlier attempt, and is
    built again from the start.
    """
    export = CorpusExport.objects.select_related("corpus").filter(pk=export_id).first()
    if export is None:
        logger.info("Export %s is already deleted", export_id)
        return
    if export.restart():
        logger.warning("Export %s lost the worker building it: building it again", export_id)
    exports.export_build(export)


@receiver(job_failed, sender=export_build)
def export_build_failed(sender, job, **kwargs):
    """Every attempt at building the export was lost: it is failed, as its builds are when they break."""
    export = CorpusExport.objects.filter(pk=job.arguments[0]).first()
    if export is not None:
        export.fail()
