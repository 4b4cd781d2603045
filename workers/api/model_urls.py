from django.urls import path

from workers.api.model_views import ModelDetails, ModelList, ModelVersionDetails, ModelVersionList

urlpatterns = [
    path("models/", ModelList.as_view(), name="model-list"),
    path("model/<uuid:id>/", ModelDetails.as_view(), name="model-details"),
    path("model/<uuid:id>/versions/", ModelVersionList.as_view(), name="model-version-list"),
    path("modelversion/<uuid:id>/", ModelVersionDetails.as_view(), name="model-version-details"),
]
