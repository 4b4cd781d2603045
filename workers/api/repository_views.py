"""
API of Git repositories: list, create, retrieve, and set their credentials.

Access follows the repository's rights, as for workers: guest to see it, admin to change its
credentials (contributor starts imports, see the scheduler's CreateRepositoryImport). A repository
the user cannot see answers 404; one they see without the level an action needs answers 403. Task
tokens read like their process's creator but change nothing here.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from users.models import Role
from users.rights import filter_rights
from workers.api.repository_serializers import (
    RepositoryCreateSerializer,
    RepositorySerializer,
    RepositoryUpdateSerializer,
)
from workers.models import Repository
from workers.services import repositories

TAGS = ["repositories"]


@extend_schema(tags=TAGS)
class RepositoryList(ListAPIView):
    """Git repositories the user has a right on (every one for instance administrators), by URL."""

    serializer_class = RepositorySerializer
    permission_classes = (IsAuthenticated,)

    def get_queryset(self):
        return filter_rights(self.request.user, Repository.objects.all(), level=Role.GUEST).order_by("url", "id")

    @extend_schema(operation_id="ListRepositories")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateRepository",
        request=RepositoryCreateSerializer,
        responses={
            201: RepositorySerializer,
            409: OpenApiResponse(description="A repository with this URL exists (`existing_id` if you can see it)."),
        },
        description=(
            "Add a Git repository whose `.arkindex.yml` declares workers; its creator gets the admin right on "
            "it. `credentials` (username and password or access token) are kept sealed and only given to the "
            "import tasks of its repository processes. 409 when the URL is already known."
        ),
    )
    def post(self, request, *args, **kwargs):
        serializer = RepositoryCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        repository = repositories.repository_create(user=request.user, **serializer.validated_data)
        return Response(RepositorySerializer(repository).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class RepositoryDetail(GenericAPIView):
    serializer_class = RepositorySerializer
    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="RetrieveRepository", description="A Git repository the user has a right on.")
    def get(self, request, pk):
        repository = repositories.repository_for_user(request.user, pk, Role.GUEST, "see it")
        return Response(RepositorySerializer(repository).data)

    @extend_schema(
        operation_id="PartialUpdateRepository",
        request=RepositoryUpdateSerializer,
        responses={200: RepositorySerializer},
        description=(
            "Replace the credentials of a repository, or remove them with null. Needs admin access to the "
            "repository. The credentials are never returned."
        ),
    )
    def patch(self, request, pk):
        repository = repositories.repository_for_user(request.user, pk, Role.ADMIN, "change its credentials")
        serializer = RepositoryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        repository = repositories.repository_set_credentials(
            repository=repository, credentials=serializer.validated_data["credentials"]
        )
        return Response(RepositorySerializer(repository).data)
