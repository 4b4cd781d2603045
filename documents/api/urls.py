from django.urls import path

from documents.api.search_views import CorpusSearch
from documents.api.views import (
    CorpusDetail,
    CorpusElementList,
    CorpusList,
    ElementChildrenCreate,
    ElementChildrenList,
    ElementCreate,
    ElementDetail,
    ElementParent,
    ElementParentsList,
    ElementsBulkCreate,
    ElementTypeCreate,
)

urlpatterns = [
    path("corpus/", CorpusList.as_view(), name="corpus-list"),
    path("corpus/<uuid:id>/", CorpusDetail.as_view(), name="corpus-detail"),
    path("corpus/<uuid:corpus>/elements/", CorpusElementList.as_view(), name="corpus-elements"),
    path("corpus/<uuid:corpus>/search/", CorpusSearch.as_view(), name="corpus-search"),
    path("elements/type/", ElementTypeCreate.as_view(), name="element-type-create"),
    path("elements/create/", ElementCreate.as_view(), name="element-create"),
    path("elements/<uuid:id>/children/", ElementChildrenList.as_view(), name="element-children"),
    path("elements/<uuid:id>/parents/", ElementParentsList.as_view(), name="element-parents"),
    path("element/<uuid:id>/", ElementDetail.as_view(), name="element-detail"),
    path("element/<uuid:id>/children/bulk/", ElementsBulkCreate.as_view(), name="elements-bulk-create"),
    path("element/parent/<uuid:id>/", ElementChildrenCreate.as_view(), name="element-children-create"),
    path("element/<uuid:child>/parent/<uuid:parent>/", ElementParent.as_view(), name="element-parent"),
]
