"""
People, their API tokens, groups, and the rights that give them an access level on an object.

Access levels are ordered: guest (10) reads, contributor (50) writes, admin (100) manages. A right
is held by a user directly or through a group; through a group, the level is the lower of the
group's right and the user's membership level. Instance administrators (`is_admin`) see everything.
"""

import binascii
import os
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q


class Role(models.IntegerChoices):
    GUEST = 10, "Guest"
    CONTRIBUTOR = 50, "Contributor"
    ADMIN = 100, "Admin"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra_fields):
        if not email:
            raise ValueError("Users must have an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True, max_length=255)
    display_name = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the Django admin.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = UserManager()

    # Set on the request's user when a running task calls with its token (see `users.callers`):
    # the rights of that user are then narrowed to the task's job.
    task_scope = None

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = self.email.lower()
        if not self.display_name:
            self.display_name = self.email.split("@")[0]
        super().save(*args, **kwargs)

    @property
    def is_admin(self):
        """
        An instance administrator: every object is reachable at the admin level. A task acting for
        an administrator is not one: it reaches its own job only.
        """
        return self.is_active and self.is_superuser and self.task_scope is None


def generate_token_key():
    return binascii.hexlify(os.urandom(20)).decode()


class Token(models.Model):
    """An API token, sent as `Authorization: Token <key>`. A user may hold several (one per script)."""

    key = models.CharField(max_length=40, unique=True, default=generate_token_key, editable=False)
    user = models.ForeignKey(User, related_name="tokens", on_delete=models.CASCADE)
    name = models.CharField(max_length=100, default="default")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_token_name_per_user")]

    def __str__(self):
        return f"{self.name} ({self.user})"


class Group(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64)
    public = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, related_name="memberships", on_delete=models.CASCADE)
    group = models.ForeignKey(Group, related_name="memberships", on_delete=models.CASCADE)
    level = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.GUEST)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.group} ({self.get_level_display()})"


class Right(models.Model):
    """An access level on one object (corpus, worker, model…) held by a user or by a group."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.UUIDField()
    content_object = GenericForeignKey("content_type", "object_id")
    user = models.ForeignKey(User, null=True, blank=True, related_name="rights", on_delete=models.CASCADE)
    group = models.ForeignKey(Group, null=True, blank=True, related_name="rights", on_delete=models.CASCADE)
    level = models.PositiveSmallIntegerField(choices=Role.choices)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="right_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id", "user"], condition=Q(user__isnull=False), name="unique_user_right"
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id", "group"],
                condition=Q(group__isnull=False),
                name="unique_group_right",
            ),
        ]

    def __str__(self):
        return f"{self.user or self.group}: {self.get_level_display()} on {self.content_type.model} {self.object_id}"
