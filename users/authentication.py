"""
How people authenticate to the API: `Token <key>` with one of their API tokens (scripts, the
clients), or the Django session (the admin and the browsable pages).

Running tasks authenticate with their own `Ponos <key>` scheme, which the ponos app provides; what
such a request may reach is the task's scope (`users.callers`).
"""

from django.utils import timezone
from rest_framework import authentication, exceptions

from users.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"
    model = Token

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # Record use at most once a minute, so that reads do not turn into writes.
        now = timezone.now()
        if token.last_used is None or (now - token.last_used).total_seconds() > 60:
            Token.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token
