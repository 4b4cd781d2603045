from users.models import Token

LOGIN_TOKEN_NAME = "login"


def user_login_token(*, user):
    """The token handed out by `Login`: one per user, created on first login and reused after."""
    token, _ = Token.objects.get_or_create(user=user, name=LOGIN_TOKEN_NAME)
    return token
