"""
Authentication schemes of the API.

`Token <key>` authenticates a user with one of their API tokens; the Django session authenticates
the admin and browsable pages. Task tokens (`Ponos <key>`) are handled by the ponos app, which adds
its scheme to the list in the settings.
"""

from django.utils import timezone
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def get_model(self):
        from users.models import Token

        return Token

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # Record use at most once a minute, so that reads do not turn into writes.
        now = timezone.now()
        if token.last_used is None or (now - token.last_used).total_seconds() > 60:
            model.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token
