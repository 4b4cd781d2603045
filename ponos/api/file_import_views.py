"""
API of file imports (see `processes.services.file_imports`): a person creates one, which starts at once
(CreateFilesProcess). Its task reads its data files with RetrieveDataFile and creates pages with
CreateIIIFURL and CreateElement, with its own token: no endpoint of its own.
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ponos import services
from ponos.api.file_import_serializers import FilesProcessCreateSerializer, FilesProcessSerializer
from processes.services.file_imports import files_process_create


@extend_schema(tags=["processes"])
class FilesProcessCreate(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="CreateFilesProcess",
        request=FilesProcessCreateSerializer,
        responses={
            201: FilesProcessSerializer,
            400: OpenApiResponse(description="Every broken rule is named."),
            403: OpenApiResponse(description="Below contributor on the data files' corpus, or a task token."),
        },
        description=(
            "Import data files of one corpus (contributors) and start the import at once. Each data file lists "
            "IIIF images, as text (one URL per line, optionally followed by the page's name) or JSON (a list of "
            "URLs, or a IIIF Presentation 2 or 3 manifest). Its single task creates one page of type "
            "`element_type` per image, with a zone covering the image, in the folder `folder_id`, or in a new "
            "folder of type `folder_type` per data file (under `folder_id` when both are sent). This instance has "
            "no image server: uploaded images and PDFs are refused."
        ),
    )
    def post(self, request):
        serializer = FilesProcessCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            process = files_process_create(
                user=request.user,
                mode=data["mode"],
                file_ids=data["files"],
                element_type=data["element_type"],
                folder_id=data.get("folder_id"),
                folder_type=data.get("folder_type"),
                farm_id=data.get("farm_id"),
                name=data.get("name"),
            )
            process, tasks = services.process_start(process=process)
        process.run_tasks = tasks
        process.file_ids = list(dict.fromkeys(data["files"]))
        return Response(FilesProcessSerializer(process).data, status=status.HTTP_201_CREATED)
