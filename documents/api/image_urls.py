from django.urls import path

from documents.api.image_views import IIIFURLCreate, ImageDetails

urlpatterns = [
    path("image/iiif/url/", IIIFURLCreate.as_view(), name="iiif-url-create"),
    path("image/<uuid:pk>/", ImageDetails.as_view(), name="image-details"),
]
