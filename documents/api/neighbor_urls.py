from django.urls import path

from documents.api.neighbor_views import ElementNeighbors

urlpatterns = [
    path("elements/<uuid:id>/neighbors/", ElementNeighbors.as_view(), name="element-neighbors"),
]
