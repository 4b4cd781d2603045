"""
API of repository imports: a person starts one (CreateRepositoryImport); the process's single task
reads what it imports and sends back the `.arkindex.yml` it found, with its own `Ponos` token
(RetrieveRepositoryImport, ImportRepositoryWorkerVersions). Views validate, call
`ponos.services.repositories` and serialise.
"""

from urllib.parse import urlsplit

from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ponos.api.repository_serializers import (
    OAuthCredentialsSerializer,
    RepositoryImportCreateSerializer,
    RepositoryImportProcessSerializer,
    RepositoryImportPublishSerializer,
    RepositoryImportResultSerializer,
    RepositoryImportSerializer,
)
from ponos.api.secret_views import SecretUnreadable
from ponos.services import repositories as repository_services
from processes.models import Process, ProcessMode, ProcessState, process_state
from processes.selectors import process_for_user
from users.callers import calling_task
from users.models import Role
from users.rights import filter_rights
from workers.models import Repository
from workers.services.repositories import CredentialsError, repository_for_user

TAGS = ["repositories"]
STOPPED_DETAIL = (
    "This .arkindex.yml is version 3: its workers are published from their own CI (`arkindex workers publish`), "
    "so this process imports nothing and stops."
)


@extend_schema(tags=TAGS)
class RepositoryImportCreate(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="CreateRepositoryImport",
        request=RepositoryImportCreateSerializer,
        responses={
            201: RepositoryImportProcessSerializer,
            400: OpenApiResponse(description="Not a Git revision, or an unknown farm."),
            403: OpenApiResponse(description="Below contributor on the repository, or a task token."),
            404: OpenApiResponse(description="No repository that you can see."),
        },
        description=(
            "Start a repository process importing one revision (a branch, a tag or a commit hash; the default "
            "branch when left out) of a repository: contributor access to the repository is required. Its single "
            "task clones the revision and reads its `.arkindex.yml`: versions 1 and 2 add a version, for the "
            "commit, to each worker declared (created in the repository when new); version 3 imports nothing and "
            "the process stops. An invalid file fails the task with every error in its log."
        ),
    )
    def post(self, request, pk):
        repository = repository_for_user(request.user, pk, Role.CONTRIBUTOR, "import it")
        serializer = RepositoryImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        process, tasks = repository_services.repository_import_start(
            user=request.user,
            repository=repository,
            revision=serializer.validated_data["revision"],
            farm=serializer.validated_data["farm_id"],
        )
        process.run_tasks = tasks
        return Response(RepositoryImportProcessSerializer(process).data, status=status.HTTP_201_CREATED)


def import_for_task(request, pk):
    """
    The import run by the task calling with its token. People, even the process's creator, get a
    403 (a 404 when they cannot see the process): only the task reads its import's credentials.
    """
    task = calling_task(request)
    if task is None:
        process_for_user(request.user, pk)
        raise PermissionDenied("Only the task of a repository process reads its import, with its own Ponos token.")
    if task.process_id != pk:
        # A task sees its own process only.
        raise NotFound(f"Process {pk} not found, or you have no access to it.")
    return repository_services.repository_import_of(task.task)


@extend_schema(tags=TAGS)
class RepositoryImportDetails(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="RetrieveRepositoryImport",
        responses={
            200: RepositoryImportSerializer,
            403: OpenApiResponse(description="Not the token of this process's task."),
            404: OpenApiResponse(description="No such process, or its repository was deleted."),
        },
        description=(
            "What the task of a repository process clones: the repository's URL, the revision, and the "
            "repository's credentials if it has some. Only that task's own `Ponos` token reads it."
        ),
    )
    def get(self, request, pk):
        repository_import = import_for_task(request, pk)
        try:
            credentials = repository_import.credentials
        except CredentialsError as e:
            raise SecretUnreadable(str(e)) from None
        return Response(
            RepositoryImportSerializer(
                {
                    "repository": repository_import.repository,
                    "revision": repository_import.revision,
                    "credentials": credentials,
                }
            ).data
        )

    @extend_schema(
        operation_id="ImportRepositoryWorkerVersions",
        request=RepositoryImportPublishSerializer,
        responses={
            200: RepositoryImportResultSerializer,
            201: RepositoryImportResultSerializer,
            400: OpenApiResponse(description="The `.arkindex.yml` is invalid: `yaml` lists every error."),
            403: OpenApiResponse(description="Not the token of this process's task, or its creator lost access."),
            409: OpenApiResponse(description="The task is being stopped."),
        },
        description=(
            "Sent by the task of a repository process with the `.arkindex.yml` of the commit it cloned. Versions 1 "
            "and 2: each declared worker of the repository gets a version for this commit (201; importing a commit "
            "again returns the versions already made). Version 3: nothing is imported and the process stops (200)."
        ),
    )
    def post(self, request, pk):
        repository_import = import_for_task(request, pk)
        serializer = RepositoryImportPublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = repository_services.repository_import_publish(
            repository_import=repository_import,
            text=data["yaml"],
            commit_hash=data["commit_hash"],
            branch=data.get("branch") or None,
            tag=data.get("tag") or None,
        )
        if result.published_by_ci:
            detail = STOPPED_DETAIL
        else:
            created = sum(created for _, created in result.versions)
            detail = f"{created} worker version(s) imported, {len(result.versions) - created} already imported."
        body = RepositoryImportResultSerializer(
            {
                "version": result.version,
                "stopped": result.published_by_ci,
                "detail": detail,
                "worker_versions": [
                    {"created": created, "worker_version": version} for version, created in result.versions
                ],
            }
        ).data
        return Response(body, status=status.HTTP_200_OK if result.published_by_ci else status.HTTP_201_CREATED)


KNOWN_PROVIDERS = {"github.com": "GitHub", "bitbucket.org": "Bitbucket"}
CREDENTIALS_STATUS = {
    ProcessState.Completed: "done",
    ProcessState.Failed: "error",
    ProcessState.Error: "error",
}


def provider_of(url):
    parts = urlsplit(url)
    host = parts.hostname or ""
    name = KNOWN_PROVIDERS.get(host) or ("GitLab" if "gitlab" in host.split(".") else host)
    return name, f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@extend_schema(tags=TAGS)
class OAuthCredentialsList(ListAPIView):
    """
    The user's Git credentials: those of the repositories they administer (their admin right lets
    them replace the credentials), as their imports use them. Only where and how they were last
    used is shown, never the username or the secret.
    """

    serializer_class = OAuthCredentialsSerializer
    permission_classes = (IsAuthenticated,)

    def get_queryset(self):
        last_import = (
            Process.objects.filter(
                repository_id=OuterRef("pk"),
                mode=ProcessMode.Repository,
                finished__isnull=False,
            )
            .annotate(state_value=process_state())
            .filter(state_value__in=list(CREDENTIALS_STATUS))
            .order_by("-finished", "-id")
        )
        repositories = filter_rights(self.request.user, Repository.objects.all(), level=Role.ADMIN)
        return (
            repositories.filter(credentials__isnull=False)
            .annotate(
                last_import_id=Subquery(last_import.values("id")[:1]),
                last_import_finished=Subquery(last_import.values("finished")[:1]),
                last_import_state=Subquery(last_import.values("state_value")[:1]),
            )
            .only("id", "url")
            .order_by("url", "id")
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        for repository in page if page is not None else []:
            repository.provider_name, repository.provider_url = provider_of(repository.url)
            repository.status = CREDENTIALS_STATUS.get(repository.last_import_state, "created")
        return page

    @extend_schema(
        operation_id="ListOAuthCredentials",
        responses={200: OAuthCredentialsSerializer(many=True)},
        description=(
            "The Git credentials the user set on repositories they administer (CreateRepository, "
            "PartialUpdateRepository), by repository URL, with the status of the last import that used them. "
            "Repository imports send them to the Git host when cloning over HTTP(S); nothing here shows them."
        ),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
