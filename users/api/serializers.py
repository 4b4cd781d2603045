from django.conf import settings
from django.contrib.auth import authenticate
from rest_framework import serializers

from users.models import User


def instance_features():
    """Optional features of this instance, as the clients test for them."""
    return dict(settings.ARKINDEX_FEATURES)


class UserSerializer(serializers.ModelSerializer):
    is_admin = serializers.BooleanField(read_only=True)
    features = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "email", "display_name", "is_admin", "created", "features")
        read_only_fields = ("id", "email", "is_admin", "created", "features")

    def get_features(self, user) -> dict[str, bool]:
        """Optional features of this instance, as the clients test for them."""
        return instance_features()


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(write_only=True)
    password = serializers.CharField(write_only=True, style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, data):
        user = authenticate(self.context["request"], username=data["email"], password=data["password"])
        if user is None:
            raise serializers.ValidationError("Incorrect email or password.", code="authorization")
        data["user"] = user
        return data


class LoginResponseSerializer(UserSerializer):
    auth_token = serializers.CharField(read_only=True)

    class Meta(UserSerializer.Meta):
        fields = UserSerializer.Meta.fields + ("auth_token",)
