from django.urls import path

from documents.api.result_views import (
    ClassificationBulkCreate,
    ClassificationCreate,
    ClassificationReject,
    CorpusEntityList,
    CorpusEntityTypeList,
    CorpusMLClassList,
    ElementClassificationList,
    ElementEmbeddings,
    ElementMetaData,
    ElementMetaDataBulk,
    ElementTranscriptionsBulkCreate,
    EntityTypeCreate,
    TranscriptionBulkCreate,
    TranscriptionCreate,
    TranscriptionEntitiesBulk,
    TranscriptionEntityList,
    TranscriptionList,
)

urlpatterns = [
    path("element/<uuid:id>/transcription/", TranscriptionCreate.as_view(), name="transcription-create"),
    path("element/<uuid:id>/transcriptions/", TranscriptionList.as_view(), name="transcription-list"),
    path(
        "element/<uuid:id>/transcriptions/bulk/",
        ElementTranscriptionsBulkCreate.as_view(),
        name="element-transcriptions-bulk",
    ),
    path("transcription/bulk/", TranscriptionBulkCreate.as_view(), name="transcription-bulk"),
    path("corpus/<uuid:id>/classes/", CorpusMLClassList.as_view(), name="corpus-classes"),
    path("classifications/", ClassificationCreate.as_view(), name="classification-create"),
    path("classification/bulk/", ClassificationBulkCreate.as_view(), name="classification-bulk"),
    path("classifications/<uuid:id>/reject/", ClassificationReject.as_view(), name="classification-reject"),
    path("element/<uuid:id>/classifications/", ElementClassificationList.as_view(), name="element-classifications"),
    path("element/<uuid:id>/metadata/", ElementMetaData.as_view(), name="element-metadata"),
    path("element/<uuid:id>/metadata/bulk/", ElementMetaDataBulk.as_view(), name="element-metadata-bulk"),
    path("corpus/<uuid:id>/entity-types/", CorpusEntityTypeList.as_view(), name="corpus-entity-types"),
    path("corpus/<uuid:id>/entities/", CorpusEntityList.as_view(), name="corpus-entities"),
    path("entity/types/", EntityTypeCreate.as_view(), name="entity-type-create"),
    path("transcription/<uuid:id>/entities/", TranscriptionEntityList.as_view(), name="transcription-entities"),
    path(
        "transcription/<uuid:id>/entities/bulk/",
        TranscriptionEntitiesBulk.as_view(),
        name="transcription-entities-bulk",
    ),
    path("element/<uuid:id>/embedding/", ElementEmbeddings.as_view(), name="element-embeddings"),
]
