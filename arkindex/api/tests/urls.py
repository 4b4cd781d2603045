"""
URLs of the API plumbing tests: the test-only views, plus every pattern of the real API, so that
tests using `@pytest.mark.urls("arkindex.api.tests.urls")` can still call real endpoints and so
that the schema generated with these URLs is the real one plus the test operations.
"""

from django.urls import include, path

from arkindex.api.tests import views
from arkindex.urls import urlpatterns as arkindex_urlpatterns

test_patterns = [
    path("pages/", views.PageNumberList.as_view(), name="test-pages"),
    path("cursor/", views.CursorList.as_view(), name="test-cursor"),
    path("unpaginated/", views.UnpaginatedList.as_view(), name="test-unpaginated"),
    path("bool/", views.BoolParameter.as_view(), name="test-bool"),
    path("errors/<str:kind>/", views.ErrorView.as_view(), name="test-error"),
    path("schema-features/<uuid:pk>/", views.SchemaFeatures.as_view(), name="test-schema-features"),
]

urlpatterns = [path("api/v1/tests/", include(test_patterns)), *arkindex_urlpatterns]
