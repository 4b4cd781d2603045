"""
The operations a task's `Ponos` token may call: what its job needs, and nothing else, as a CI job
token is scoped to its job. This module is the only declaration of them; every other operation of
the API, including any added later, answers 403 to a task token (`TaskAuthentication` checks each
request against it).

Inside these operations a task reaches its own process only (`users.callers`): its corpus, its
datasets, its worker runs, its tasks and artifacts; anything else answers 404, as if absent.

Which operations a request calls is read from the URL it was routed to, with drf-spectacular's own
reading of operationIds, so that the allow-list and the OpenAPI schema cannot disagree.
"""

import threading

from processes.models import ProcessMode

# Every task, about itself and its process: read itself and the other tasks of its process (their
# parents included), their logs and artifacts, declare its own artifacts, report how it ended.
TASK_SELF = frozenset(
    {
        "RetrieveTask",
        "ListProcessTasks",
        "RetrieveTaskFromAgent",
        "PartialUpdateTaskFromAgent",
        "RetrieveTaskLog",
        "ListArtifacts",
        "DownloadArtifact",
        "CreateArtifact",
    }
)

# What `arkindex-base-worker` 0.6.0 calls for an ElementsWorker or a DatasetWorker (training
# workers included), and what the initialisation task of a workers process reads.
WORKER = frozenset(
    {
        # its run, configuration and secrets
        "RetrieveWorkerRun",
        "RetrieveWorkerRunConfiguration",
        "RetrieveSecret",
        # its process
        "RetrieveProcess",
        "ListProcessElements",
        "ListProcessSets",
        "StartWorkerActivity",
        "UpdateWorkerActivity",
        # the corpus of its process
        "RetrieveCorpus",
        "CreateElementType",
        "ListCorpusMLClasses",
        "CreateMLClass",
        "ListCorpusEntityTypes",
        "CreateEntityType",
        # elements and results
        "RetrieveElement",
        "ListElements",
        "ListElementChildren",
        "ListElementParents",
        "CreateElement",
        "CreateElements",
        "CreateElementParent",
        "CreateElementChildren",
        "PartialUpdateElement",
        "CreateTranscription",
        "CreateTranscriptions",
        "CreateElementTranscriptions",
        "ListTranscriptions",
        "CreateClassification",
        "CreateClassifications",
        "CreateTranscriptionEntity",
        "CreateTranscriptionEntities",
        "ListTranscriptionEntities",
        "CreateMetaData",
        "CreateMetaDataBulk",
        "ListElementMetaData",
        "CreateEmbedding",
        "ListEmbeddings",
        # datasets and their exports
        "CreateDataset",
        "RetrieveDataset",
        "RetrieveDatasetSet",
        "ListDatasetElements",
        "CreateDatasetElement",
        "DestroyDatasetElement",
        "ListExports",
        "StartExport",
        "DownloadExport",
        # models: the version its run uses, and the versions a training worker publishes
        "RetrieveModelVersion",
        "CreateModelVersion",
        "UpdateModelVersion",
        "PartialUpdateModelVersion",
        "CreateMultipartUpload",
        "CreateMultipartUploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    }
)

# The task of a files or IIIF process (`ponos.tasks.file_import`): it reads its data files and creates a
# page per IIIF image under the process's folder.
FILE_IMPORT = frozenset(
    {
        "RetrieveDataFile",
        "CreateIIIFURL",
        "RetrieveImage",
        "PartialUpdateImage",
        "CreateElement",
        "ListElements",
        "ListElementChildren",
    }
)

# The task of a repository process (`ponos.tasks.repository_import`): it reads what to clone and imports
# the worker versions it finds.
REPOSITORY_IMPORT = frozenset({"RetrieveRepositoryImport", "ImportRepositoryWorkerVersions"})

TASK_OPERATIONS = {
    ProcessMode.Workers: TASK_SELF | WORKER,
    ProcessMode.Dataset: TASK_SELF | WORKER,
    ProcessMode.Training: TASK_SELF | WORKER,
    ProcessMode.Files: TASK_SELF | FILE_IMPORT,
    ProcessMode.IIIF: TASK_SELF | FILE_IMPORT,
    ProcessMode.Repository: TASK_SELF | REPOSITORY_IMPORT,
}


def task_operations(mode):
    """The operationIds a task of a process of this mode may call."""
    return TASK_OPERATIONS.get(mode, TASK_SELF)


_operation_ids = None
_operation_ids_lock = threading.Lock()


def _read_operation_ids():
    """(URL callback, method) → operationId for every operation of the API, as the schema names them."""
    # Imported here: DRF imports the authentication classes, hence this module, while it loads its
    # own views, which drf-spectacular's generator imports.
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    endpoints = generator.endpoint_inspector_cls(generator.patterns, generator.urlconf).get_api_endpoints()
    operation_ids = {}
    for path, _regex, method, callback in endpoints:
        view = generator.create_view(callback, method)
        view.schema.path, view.schema.method = path, method
        if not view.schema.is_excluded():  # the schema and its documentation pages
            operation_ids[callback, method] = view.schema.get_operation_id()
    return operation_ids


def operation_id(request):
    """The operationId of the operation a request calls, or None for a URL outside the API."""
    global _operation_ids
    if _operation_ids is None:
        with _operation_ids_lock:
            if _operation_ids is None:
                _operation_ids = _read_operation_ids()
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return _operation_ids.get((match.func, method))
