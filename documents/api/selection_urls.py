from django.urls import path

from documents.api.selection_views import SelectionView

urlpatterns = [
    path("elements/selection/", SelectionView.as_view(), name="selection"),
]
