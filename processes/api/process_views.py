"""
API of processes: create one on a corpus, list, read, configure and delete them, and list the
elements a process runs on.

Rights are the corpus's (`selectors.processes_with_level`): guests read, contributors create and
configure, admins (or the creator, while a contributor) delete. A hidden process answers 404, a
readable one the user may not change 403, a change its state forbids 409 (a started process only
lets its name change; a running one is not deleted). A task calling with its `Ponos` token reads
its own process only and changes nothing.
"""

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from arkindex.api.pagination import CountCursorPagination
from documents.selectors import get_corpus
from processes import selectors, services
from processes.api.process_filters import ProcessFilterSet
from processes.api.process_serializers import (
    ProcessCreateSerializer,
    ProcessElementSerializer,
    ProcessListSerializer,
    ProcessSerializer,
    ProcessUpdateSerializer,
)
from processes.models import Process, ProcessMode
from users.models import Role

TAGS = ["processes"]
# What `ProcessSerializer` shows besides the process row.
PROCESS_RELATIONS = ("creator", "element__type", "element_type", "folder_type", "farm", "repository")
# Modes whose processes have no elements of their own to list.
WITHOUT_ELEMENTS = {
    ProcessMode.Dataset: "a dataset process runs on the sets of its datasets: list them with ListProcessSets",
    ProcessMode.Template: "a template only holds worker runs",
    ProcessMode.Local: "a local process only holds a user's worker runs",
}


def detailed_processes(user):
    """Processes with everything `ProcessSerializer` shows, in the same query."""
    queryset = selectors.processes_with_level(user).select_related(*PROCESS_RELATIONS).with_state()
    # The data files of a file import, in the order of their links: no query of their own.
    file_links = Process.files.through.objects.filter(process_id=OuterRef("pk")).order_by("id")
    queryset = queryset.annotate(file_ids=ArraySubquery(file_links.values("datafile_id")))
    return selectors.with_element_list(queryset)


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="ListProcesses",
        description=(
            "Processes on the corpora you can read and your own personal ones, the newest first, with their "
            "state, creator and duration."
        ),
    )
)
class ProcessList(ListAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessListSerializer
    filterset_class = ProcessFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Process.objects.none()
        queryset = selectors.listable_processes(self.request.user)
        return queryset.select_related("creator").with_state().order_by("-created", "-id")


@extend_schema(tags=TAGS)
class ProcessCreate(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessCreateSerializer

    @extend_schema(
        operation_id="CreateProcess",
        request=ProcessCreateSerializer,
        responses={201: ProcessSerializer},
        description=(
            "Create a process of mode workers, dataset or template on a corpus (contributors). A workers "
            "process runs on the elements its filters select: a folder (`element_id`) and everything below "
            "it, the creator's selection, or an explicit list (`element_ids`), narrowed by a type (slug) and "
            "a name; the whole corpus without any. Every broken rule is named in one 400."
        ),
    )
    def post(self, request, *args, **kwargs):
        corpus = get_corpus(request.user, kwargs["corpus"], Role.CONTRIBUTOR, "create processes")
        serializer = ProcessCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        process = services.process_create(user=request.user, corpus=corpus, **serializer.validated_data)
        process = detailed_processes(request.user).get(pk=process.pk)
        return Response(ProcessSerializer(process, context={"request": request}).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class ProcessDetails(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessSerializer

    def get_process(self, level=Role.GUEST):
        return selectors.process_for_user(
            self.request.user, self.kwargs["pk"], level, queryset=detailed_processes(self.request.user)
        )

    @extend_schema(operation_id="RetrieveProcess", description="A process with its filters and options (guests).")
    def get(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_process()).data)

    @extend_schema(
        operation_id="PartialUpdateProcess",
        request=ProcessUpdateSerializer,
        responses={200: ProcessSerializer},
        description=(
            "Change the name, element filters or options of a process (contributors). Once the process "
            "has started, only its name changes: any other field is a 409. The configuration the change "
            "leaves is checked as a whole."
        ),
    )
    def patch(self, request, *args, **kwargs):
        process = self.get_process(Role.CONTRIBUTOR)
        # The state conflict comes first: once started, the values of other fields do not matter.
        services.check_configurable(process, request.data.keys() if isinstance(request.data, dict) else ())
        serializer = ProcessUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.process_update(process=process, user=request.user, **serializer.validated_data)
        return Response(self.get_serializer(self.get_process()).data)

    @extend_schema(
        operation_id="DestroyProcess",
        request=None,
        responses={204: OpenApiResponse(description="The process is hidden and will be deleted in the background.")},
        description=(
            "Delete a process with its worker runs, tasks and activities (corpus admins, or the creator "
            "while a contributor). 409 while it runs, and while results signed by its worker runs exist. "
            "The process disappears at once; a background job deletes it."
        ),
    )
    def delete(self, request, *args, **kwargs):
        process = self.get_process()
        is_creator = process.creator_id == request.user.id
        if process.level < Role.ADMIN and not (is_creator and process.level >= Role.CONTRIBUTOR):
            raise PermissionDenied(
                "Only admins of the corpus, or the creator of the process while a contributor, can delete it."
            )
        services.process_destroy(process=process, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="ListProcessElements",
        description=(
            "The elements a process runs on, as its filters select them, each once, ordered by id "
            "(guests). Not for processes without elements of their own (no corpus, dataset, template)."
        ),
    )
)
class ProcessElementList(ListAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessElementSerializer
    pagination_class = CountCursorPagination
    filter_backends = ()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Process.objects.none()
        queryset = selectors.with_element_list(selectors.processes_with_level(self.request.user))
        process = selectors.process_for_user(self.request.user, self.kwargs["pk"], queryset=queryset)
        if process.corpus_id is None:
            raise ValidationError({"process": ["This process has no corpus, hence no elements to list."]})
        if process.mode in WITHOUT_ELEMENTS:
            raise ValidationError(
                {"process": [f"This process has no elements to list: {WITHOUT_ELEMENTS[process.mode]}."]}
            )
        return services.process_elements(process).values(
            "id",
            "type_id",
            "name",
            "confidence",
            "image_id",
            "polygon",
            "rotation_angle",
            "mirrored",
            type_slug=F("type__slug"),
        )
