import hashlib

from django.contrib.auth.models import update_last_login
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.generics import RetrieveUpdateAPIView
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from arkindex.api.exceptions import NotAuthenticatedWith
from users.api.serializers import LoginResponseSerializer, LoginSerializer, UserSerializer, instance_features
from users.services import user_login_token


class LoginThrottle(AnonRateThrottle):
    """Login attempts per client address, counted in the cache all API processes share."""

    scope = "login"
    rate = "30/minute"


class LoginEmailThrottle(SimpleRateThrottle):
    """Login attempts per account, whatever the addresses they come from."""

    scope = "login_email"
    rate = "10/minute"

    def get_cache_key(self, request, view):
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None
        return self.cache_format % {
            "scope": self.scope,
            "ident": hashlib.sha256(email.strip().lower().encode()).hexdigest(),
        }


class UserLogin(APIView):
    """Log in with an email and a password; the response carries the `auth_token` to send as `Token`."""

    permission_classes = (permissions.AllowAny,)
    authentication_classes = ()
    throttle_classes = (LoginThrottle, LoginEmailThrottle)

    @extend_schema(
        operation_id="Login", request=LoginSerializer, responses={200: LoginResponseSerializer}, tags=["users"]
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        update_last_login(None, user)
        user.auth_token = user_login_token(user=user).key
        return Response(LoginResponseSerializer(user, context={"request": request}).data, status=status.HTTP_200_OK)


@extend_schema(tags=["users"])
class UserRetrieve(RetrieveUpdateAPIView):
    """The user making the request, with the features of this instance."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = UserSerializer
    http_method_names = ["get", "patch", "options", "head"]

    def get_object(self):
        return self.request.user

    def permission_denied(self, request, message=None, code=None):
        # Clients ask before logging in which features the instance has (`arkindex login`, OIDC).
        if request.method == "GET" and request.authenticators and not request.successful_authenticator:
            raise NotAuthenticatedWith(features=instance_features())
        super().permission_denied(request, message, code)

    @extend_schema(
        operation_id="RetrieveUser",
        responses={
            200: UserSerializer,
            401: OpenApiResponse(
                description="No valid credentials. Without any, the body also has the instance's `features`."
            ),
        },
        description=(
            "The user making the request, with the `features` of this instance. Without credentials, a 401 "
            "whose body has the same `features`, so that a client can tell before logging in how to log in."
        ),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="PartialUpdateUser")
    def patch(self, request, *args, **kwargs):
        return super().patch(request, *args, **kwargs)
