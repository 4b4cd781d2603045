"""
Shapes of datasets, sets and dataset elements, as the base worker reads them (API.md §3.4): a
dataset carries `corpus_id` and its `sets` as `[{id, name}]`; a set is `{id, name}` alone (the
worker adds the dataset itself); a dataset element is `{set, element}` with the element as element
lists show it. The sets come with the dataset row (`services.datasets_with_level`): serialising a
list runs no query.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasets.models import DEFAULT_SET_NAMES, Dataset, DatasetSet, DatasetState
from documents.api.serializers import ElementSerializer

SET_NAME_HELP = "Name of a set of the dataset (train, dev, test…)."


class DatasetSetSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=50, help_text=SET_NAME_HELP)

    class Meta:
        model = DatasetSet
        fields = ("id", "name")
        read_only_fields = ("id",)


class DatasetSerializer(serializers.ModelSerializer):
    """A dataset, and the body of PartialUpdateDataset."""

    sets = serializers.SerializerMethodField()
    corpus_id = serializers.UUIDField(read_only=True)
    creator = serializers.EmailField(source="creator.email", read_only=True, allow_null=True)
    state = serializers.ChoiceField(
        choices=DatasetState.choices,
        required=False,
        help_text="open → building → complete or error (error → building again). Sets and elements change only "
        "while open.",
    )

    class Meta:
        model = Dataset
        fields = (
            "id",
            "name",
            "description",
            "sets",
            "corpus_id",
            "creator",
            "state",
            "unique_elements",
            "created",
            "updated",
        )
        read_only_fields = ("id", "sets", "corpus_id", "creator", "created", "updated")
        extra_kwargs = {"description": {"required": False}}

    @extend_schema_field(DatasetSetSerializer(many=True))
    def get_sets(self, dataset):
        """The sets of the dataset, by name."""
        return dataset.set_list


class DatasetCreateSerializer(DatasetSerializer):
    set_names = serializers.ListField(
        child=serializers.CharField(max_length=50),
        min_length=1,
        max_length=100,
        write_only=True,
        default=list(DEFAULT_SET_NAMES),
        help_text=f"Names of the sets to create; {', '.join(DEFAULT_SET_NAMES)} by default.",
    )
    # A new dataset is open.
    state = serializers.ChoiceField(choices=DatasetState.choices, read_only=True)

    class Meta(DatasetSerializer.Meta):
        fields = (*DatasetSerializer.Meta.fields, "set_names")

    def validate_set_names(self, names):
        if len(set(names)) != len(names):
            raise serializers.ValidationError("Set names must be unique.")
        return names


class DatasetElementSerializer(serializers.Serializer):
    set = serializers.CharField(source="set.name", read_only=True, help_text=SET_NAME_HELP)
    element = ElementSerializer(read_only=True)


class DatasetElementCreateSerializer(serializers.Serializer):
    set = serializers.CharField(max_length=50, help_text=SET_NAME_HELP)
    element_id = serializers.UUIDField(help_text="An element of the dataset's corpus.")


class DatasetSelectionSerializer(serializers.Serializer):
    set = serializers.CharField(max_length=50, help_text=SET_NAME_HELP)
    added = serializers.IntegerField(
        read_only=True, help_text="How many selected elements were added (those already in the set are not counted)."
    )


class ElementDatasetSerializer(serializers.Serializer):
    """A dataset an element is in, and the set it is in (ListElementDatasets)."""

    dataset = DatasetSerializer(read_only=True)
    set = serializers.CharField(source="set.name", read_only=True, help_text=SET_NAME_HELP)

    def to_representation(self, dataset_element):
        # The dataset's sets come with the row, as `dataset_set_list` (see ElementDatasetList).
        dataset_element.dataset.set_list = dataset_element.dataset_set_list
        return super().to_representation(dataset_element)
