"""The base every product model stands on: a UUID primary key and its creation and update times."""

import uuid

from django.db import models


class IndexableModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
