"""One-pass representation gives DRF's answer, field for field, whatever the sources."""

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from rest_framework import serializers

from arkindex.api.representation import OnePassRepresentation


class Inner(serializers.Serializer):
    name = serializers.CharField()


class Shape(serializers.Serializer):
    id = serializers.UUIDField()
    text = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    created = serializers.DateTimeField()
    kind = serializers.CharField(source="inner.name", allow_null=True)
    inner = Inner(allow_null=True)
    computed = serializers.SerializerMethodField()
    from_method = serializers.CharField(source="describe")
    optional = serializers.CharField(required=False)
    defaulted = serializers.CharField(default="fallback")
    secret = serializers.CharField(write_only=True)

    def get_computed(self, obj):
        text = obj["text"] if isinstance(obj, dict) else obj.text
        return f"{text}!"


class OnePassShape(OnePassRepresentation, Shape):
    pass


def item(n, **overrides):
    values = {
        "id": uuid.UUID(int=n),
        "text": f"text {n}",
        "confidence": None if n % 2 else n / 10,
        "created": datetime(2026, 1, 1, n % 24, tzinfo=UTC),
        "inner": SimpleNamespace(name=f"inner {n}") if n % 3 else None,
        "describe": lambda: f"described {n}",
        "secret": "never shown",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_same_answers_as_drf():
    items = [item(n) for n in range(12)] + [item(12, optional="here", defaulted="set")]
    assert OnePassShape(items, many=True).data == Shape(items, many=True).data


def test_mappings_are_left_to_drf():
    data = {"id": uuid.UUID(int=1), "text": "a", "confidence": 0.5, "created": datetime(2026, 1, 1, tzinfo=UTC)}
    data |= {"inner": None, "describe": "plain", "defaulted": "x", "kind": "k"}
    assert OnePassShape(data).data == Shape(data).data


def test_the_plan_is_built_once_per_serializer():
    serializer = OnePassShape([item(n) for n in range(3)], many=True)
    assert len(serializer.data) == 3
    plan = serializer.child._representation_plan
    serializer.child.to_representation(item(4))
    assert serializer.child._representation_plan is plan
    assert [name for name, *_ in plan][:3] == ["id", "text", "confidence"]
    assert "secret" not in [name for name, *_ in plan]


def test_shared_objects_and_repeated_dates_give_drf_answers():
    """A nested object shared by items is converted once, a date once per run of equal ones: same answers."""
    shared = SimpleNamespace(name="shared")
    first, second = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    items = [item(n, inner=shared, created=date) for n, date in enumerate([first, first, second, first, second])]
    items.append(item(9, inner=SimpleNamespace(name="own")))
    answers = OnePassShape(items, many=True).data
    assert answers == Shape(items, many=True).data
    assert [answer["created"] for answer in answers[:5]] == [
        "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
        "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
    ]  # fmt: skip
    assert answers[5]["inner"] == {"name": "own"}


class Chained(serializers.Serializer):
    email = serializers.EmailField(source="moderator.email", allow_null=True, default=None)
    nullable = serializers.CharField(source="moderator.email", allow_null=True)
    optional = serializers.CharField(source="moderator.email", required=False)
    computed_default = serializers.CharField(source="moderator.email", default=lambda: "computed")
    deep = serializers.CharField(source="moderator.team.name", allow_null=True)
    flag = serializers.BooleanField()
    state = serializers.ChoiceField(choices=[("pending", "Pending"), ("validated", "Validated")])


class OnePassChained(OnePassRepresentation, Chained):
    pass


def test_dotted_sources_and_conversions_give_drf_answers():
    """An object missing on a dotted source's way answers the field's default, null, or no key at all, as DRF does."""
    team = SimpleNamespace(name="team")
    moderators = [None, SimpleNamespace(email="a@example.org", team=None), SimpleNamespace(email=None, team=team)]
    items = [
        SimpleNamespace(moderator=moderator, flag=flag, state=state)
        for moderator in moderators
        for flag, state in ((True, "pending"), (1, "validated"), (False, "pending"))
    ]
    answers = OnePassChained(items, many=True).data
    assert answers == Chained(items, many=True).data
    assert answers[0] == {
        "email": None, "nullable": None, "computed_default": "computed", "deep": None, "flag": True, "state": "pending",
    }  # fmt: skip
    assert answers[1]["flag"] is True and answers[3]["optional"] == "a@example.org"
