"""New rows sent as column arrays (`arkindex.prepared.insert_objects`): what `bulk_create` would save."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arkindex.prepared import insert_objects
from documents.models import Element, Entity, MetaData
from users.models import User

pytestmark = pytest.mark.django_db


def test_rows_saved_as_bulk_create_would(corpus, make_element):
    page = make_element("page", "Page 1")
    objects = [MetaData(element=page, type="text", name=f"field {n}", value=f"value {n}") for n in range(30)]
    with CaptureQueriesContext(connection) as queries:
        assert insert_objects(objects) is objects
    assert len(queries) == 1
    assert "unnest" in queries[0]["sql"]
    assert all(not obj._state.adding and obj.created is not None for obj in objects)
    saved = MetaData.objects.filter(element=page)
    assert {(m.id, m.name, m.value, m.created, m.worker_run_id) for m in saved} == {
        (m.id, m.name, m.value, m.created, None) for m in objects
    }


def test_same_statement_whatever_the_number_of_rows(corpus, make_element):
    page = make_element("page", "Page 1")
    texts = []
    for count in (1, 7):
        with CaptureQueriesContext(connection) as queries:
            insert_objects([MetaData(element=page, type="text", name=f"{count}-{n}", value="v") for n in range(count)])
        texts.append(queries[0]["sql"])
    assert texts[0] == texts[1]
    assert MetaData.objects.filter(element=page).count() == 8


def test_json_and_null_columns(corpus):
    entity_type = corpus.entity_types.create(name="person")
    objects = [
        Entity(corpus=corpus, type=entity_type, name="Ada", metas={"born": 1815, "tags": ["a", "b"]}),
        Entity(corpus=corpus, type=entity_type, name="Charles", metas=None),
    ]
    insert_objects(objects)
    assert dict(Entity.objects.values_list("name", "metas")) == {
        "Ada": {"born": 1815, "tags": ["a", "b"]},
        "Charles": None,
    }


def test_nothing_to_insert_runs_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert insert_objects([]) == []
    assert len(queries) == 0


def test_arrays_of_numbers(corpus, types, image):
    """Polygons (arrays of arrays of integers) travel as their text, and come back as saved."""
    polygons = [[[0, 0], [10, 0], [10, 10], [0, 0]], [[5, 5], [6, 5], [6, 6], [5, 5]]]
    objects = [
        Element(corpus=corpus, type=types["page"], name=str(n), image=image, polygon=polygon)
        for n, polygon in enumerate(polygons)
    ] + [Element(corpus=corpus, type=types["page"], name="no zone")]
    insert_objects(objects)
    assert dict(Element.objects.values_list("name", "polygon")) == {"0": polygons[0], "1": polygons[1], "no zone": None}


def test_models_the_arrays_cannot_carry(corpus, types):
    with pytest.raises(ValueError, match="User's primary key has no default"):
        insert_objects([User(email="someone@example.org")])


def test_array_values_must_be_numbers():
    from arkindex.prepared import _array_literal

    assert _array_literal([[1, 2], [3, None]]) == "{{1,2},{3,NULL}}"
    assert _array_literal([0.5, 1e-05]) == "{0.5,1e-05}"
    for value in ([True], ["1"], [[1, "x"]]):
        with pytest.raises(TypeError, match="is not a number"):
            _array_literal(value)


def test_values_the_fields_prepare_and_values_sent_as_they_are(corpus, make_element):
    """Ids given as text and enumeration members are prepared by their fields; one time dates a whole INSERT."""
    from documents.models import MetaType

    page = make_element("page", "Page 1")
    objects = [
        MetaData(element_id=str(page.id), type=MetaType.Text, name="as text", value="v"),
        MetaData(element_id=page.id, type="date", name="as given", value="1815"),
    ]
    insert_objects(objects)
    assert objects[0].created == objects[0].updated == objects[1].created
    saved = {m.name: m for m in MetaData.objects.filter(element=page)}
    assert (saved["as text"].type, saved["as given"].type) == ("text", "date")
    assert saved["as text"].created == objects[0].created


def test_new_objects_are_what_the_model_class_builds(corpus, make_element):
    from arkindex.prepared import new_objects
    from documents.models import Classification, ClassificationState

    page = make_element("page", "Page 1")
    ml_class, other = corpus.ml_classes.create(name="cat"), corpus.ml_classes.create(name="dog")
    built = new_objects(Classification, [{"ml_class_id": ml_class.id}, {"ml_class": ml_class}], element=page)
    reference = Classification(element=page, ml_class_id=ml_class.id)
    for obj in built:
        assert obj._state.adding and obj.id != reference.id
        assert {k: v for k, v in vars(obj).items() if k not in ("_state", "id")} == {
            k: v for k, v in vars(reference).items() if k not in ("_state", "id")
        }
        assert obj.state == ClassificationState.Pending
    assert built[0].id != built[1].id
    with CaptureQueriesContext(connection) as queries:
        assert built[0].element is page and built[1].ml_class is ml_class
    assert len(queries) == 0
    built[1].ml_class_id = other.id
    insert_objects(built)
    assert Classification.objects.filter(element=page).count() == 2


def test_new_objects_refuse_unknown_fields():
    from arkindex.prepared import new_objects

    with pytest.raises(TypeError, match="MetaData has no field colour, size"):
        new_objects(MetaData, [{"name": "a", "colour": "red"}], size=3)
