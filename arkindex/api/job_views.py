"""
ListJobs and RetrieveJob: the background work a user asked for (deletions, exports) and what became
of it. A job is `pending` until an attempt runs it, `running`, then `done`, or `failed` with the
error of its last attempt once JOB_MAX_ATTEMPTS attempts failed (see `arkindex.jobs`). A user sees
their own jobs; instance administrators see every job.
"""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import IsAuthenticated

from arkindex.models import Job, JobState


class JobSerializer(serializers.ModelSerializer):
    last_error = serializers.CharField(read_only=True, help_text="Why the last attempt failed; empty when none did.")

    class Meta:
        model = Job
        fields = ("id", "description", "state", "attempts", "last_error", "created", "updated", "started", "finished")
        read_only_fields = fields


class JobFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=JobState.choices, help_text="Only the jobs in this state.")

    class Meta:
        model = Job
        fields = ("state",)


def visible_jobs(view):
    user = view.request.user
    if getattr(view, "swagger_fake_view", False) or not user.is_authenticated:
        return Job.objects.none()
    return Job.objects.all() if user.is_admin else Job.objects.filter(user=user)


@extend_schema(tags=["arkindex"])
class JobList(ListAPIView):
    """Your background jobs, the newest first: deletions and exports you asked for, pending or ended."""

    permission_classes = (IsAuthenticated,)
    serializer_class = JobSerializer
    filterset_class = JobFilterSet

    def get_queryset(self):
        return visible_jobs(self).order_by("-created", "-id")

    @extend_schema(operation_id="ListJobs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["arkindex"])
class JobDetails(RetrieveAPIView):
    """One of your background jobs."""

    permission_classes = (IsAuthenticated,)
    serializer_class = JobSerializer

    def get_queryset(self):
        return visible_jobs(self)

    @extend_schema(operation_id="RetrieveJob")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
