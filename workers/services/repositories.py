"""
Git repositories, and the worker versions their repository processes import.

**Access** follows rights like workers: whoever creates a repository gets the admin right on it;
guests see it, contributors start imports of it, admins change its credentials. A worker that an
import creates is shared with everyone who has a right on the repository at that moment.

**Credentials** (a username and a password or access token, for HTTP(S) clones) are sealed at rest
with AES-256-GCM under a key derived (HKDF-SHA256) from `SECRETS_KEY`, as the scheduler's secrets
are (`ponos.secret_store`, in an app below this one): a derivation context of their own keeps the
two keys apart, and the repository's id is the associated data, so that sealed bytes copied onto
another repository fail to open instead of handing out its credentials. Only the import task of a
repository process reads them (ponos `RetrieveRepositoryImport`); the API says whether a
repository has credentials, never what they are. Changing `SECRETS_KEY` means setting them again.

**Imports**: a repository process's task sends the `.arkindex.yml` of the revision it cloned (see
`workers.arkindex_yml`). Versions 1 and 2 make each declared worker a worker of the repository
(found by slug and repository URL, or created, then updated to what the file says) and give it a
new version for the commit; version 3 imports nothing. Importing a commit again (a retried
process) returns the versions it already made instead of failing.
"""

import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from arkindex.api.exceptions import Conflict
from users.models import Right, Role
from users.rights import check_level, filter_rights, get_max_level
from workers import services
from workers.arkindex_yml import PUBLISHED_BY_CI_VERSION, parse_arkindex_yml
from workers.models import Repository, Worker, WorkerVersion

NONCE_SIZE = 12
HKDF_INFO = b"arkindex repository credentials v1"
URL_MAX_LENGTH = Repository._meta.get_field("url").max_length
HTTP_SCHEMES = ("http", "https")


class CredentialsError(Exception):
    """Sealed credentials that do not open with the current key (SECRETS_KEY changed, or bytes altered)."""


# --- Credentials ---------------------------------------------------------------------------------


def _credentials_key():
    material = getattr(settings, "SECRETS_KEY", None) or settings.SECRET_KEY
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material.encode())


def seal_credentials(repository, credentials):
    """Set (a dict `{username, password}`) or clear (None) the sealed credentials of an unsaved change."""
    if credentials is None:
        repository.credentials_nonce = repository.credentials = None
        return
    plaintext = json.dumps({"username": credentials["username"], "password": credentials["password"]}).encode()
    nonce = os.urandom(NONCE_SIZE)
    repository.credentials_nonce = nonce
    repository.credentials = AESGCM(_credentials_key()).encrypt(nonce, plaintext, str(repository.id).encode())


def open_credentials(repository):
    """The repository's credentials `{username, password}`, or None when it has none."""
    if repository.credentials is None:
        return None
    try:
        plaintext = AESGCM(_credentials_key()).decrypt(
            bytes(repository.credentials_nonce), bytes(repository.credentials), str(repository.id).encode()
        )
    except (InvalidTag, ValueError, TypeError):
        raise CredentialsError(
            f"The credentials of repository {repository.url} cannot be opened with the server's current "
            "SECRETS_KEY: an administrator of the repository must set them again."
        ) from None
    return json.loads(plaintext)


# --- Repositories --------------------------------------------------------------------------------


def repository_for_user(user, pk, level, action):
    """The repository `pk`: 404 when `user` cannot see it, 403 when they see it below `level`."""
    repository = filter_rights(user, Repository.objects.all(), level=0).filter(pk=pk).first()
    check_level(
        getattr(repository, "max_level", 0), level, what=f"Repository {pk}", holder="the repository", action=action
    )
    return repository


def normalize_url(url):
    """
    The URL a repository is known by (without trailing slash), or a 400: HTTP(S) only (`file://`
    too where REPOSITORIES_ALLOW_FILE_URLS is set), and never with credentials in it, since
    everyone who sees the repository or its workers sees the URL.
    """
    url = (url or "").strip().rstrip("/")
    schemes = (*HTTP_SCHEMES, "file") if settings.REPOSITORIES_ALLOW_FILE_URLS else HTTP_SCHEMES
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise ValidationError({"url": ["This is not a valid URL."]}) from None
    if parts.scheme not in schemes:
        raise ValidationError({"url": [f"Give the URL of a Git repository, with a scheme among {', '.join(schemes)}."]})
    if "@" in parts.netloc:
        raise ValidationError(
            {
                "url": [
                    "Credentials cannot be part of the URL, which everyone who sees the repository sees: "
                    "send them in `credentials`, where they are kept sealed."
                ]
            }
        )
    if parts.scheme in HTTP_SCHEMES and not hostname:
        raise ValidationError({"url": ["This URL names no host."]})
    if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path.strip("/")):
        raise ValidationError({"url": ["A file URL names a folder of the agents' hosts: file:///path/to/repository."]})
    if parts.query or parts.fragment:
        raise ValidationError({"url": ["The URL of a Git repository has no query string nor fragment."]})
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError({"url": [f"The URL has more than {URL_MAX_LENGTH} characters."]})
    return url


def _url_taken(user, url):
    """The 409 for a URL that another repository has; its id only for someone who may see it."""
    existing = Repository.objects.filter(url=url).first()
    visible = existing is not None and get_max_level(user, existing) >= Role.GUEST
    return Conflict(
        "A repository with this URL already exists"
        + (": use it." if visible else "; ask one of its administrators for access."),
        code="unique",
        existing_id=existing.id if visible else None,
    )


def repository_create(*, user, url, credentials=None):
    """A new repository; its creator gets the admin right on it. 409 when the URL is taken."""
    url = normalize_url(url)
    if Repository.objects.filter(url=url).exists():
        raise _url_taken(user, url)
    repository = Repository(url=url, creator=user)
    seal_credentials(repository, credentials)
    try:
        with transaction.atomic():
            repository.save()
            services.grant_right(obj=repository, user=user, level=Role.ADMIN)
    except IntegrityError:
        # Created by a concurrent request between the lookup and the insert.
        raise _url_taken(user, url) from None
    return repository


def repository_set_credentials(*, repository, credentials):
    """Replace (a dict) or remove (None) the credentials of a repository."""
    seal_credentials(repository, credentials)
    repository.save(update_fields=["credentials_nonce", "credentials", "updated"])
    return repository


def repositories_clear_credentials(*, queryset):
    """Remove the credentials of many repositories at once (the admin's action). Returns the count."""
    return queryset.filter(credentials__isnull=False).update(
        credentials=None, credentials_nonce=None, updated=timezone.now()
    )


# --- Imports -------------------------------------------------------------------------------------


def revision_url(repository_url, commit_hash):
    """Where a Git host shows the commit a version was imported from."""
    return f"{repository_url.rstrip('/').removesuffix('.git')}/commit/{commit_hash}"


@dataclass
class ImportResult:
    """What an import did: the `.arkindex.yml` version, and each worker's version with whether it is new."""

    version: int
    versions: list = field(default_factory=list)

    @property
    def published_by_ci(self):
        return self.version == PUBLISHED_BY_CI_VERSION


def share_with_repository(worker, repository):
    """Give everyone with a right on the repository the same right on a worker it just declared."""
    rights = Right.objects.filter(
        content_type=ContentType.objects.get_for_model(Repository), object_id=repository.id
    ).values_list("user_id", "group_id", "level")
    worker_type = ContentType.objects.get_for_model(Worker)
    # The creator's own right on the new worker is already there: conflicts are skipped.
    Right.objects.bulk_create(
        [
            Right(content_type=worker_type, object_id=worker.id, user_id=user_id, group_id=group_id, level=level)
            for user_id, group_id, level in rights
        ],
        ignore_conflicts=True,
    )


def repository_import_versions(*, repository, user, text, commit_hash, branch=None, tag=None):
    """
    Import the workers that the `.arkindex.yml` in `text` declares, at the commit `commit_hash` of
    `repository`, on behalf of `user` (who creates the new workers). Raises
    `workers.arkindex_yml.ArkindexYmlError` for an invalid file; all or nothing otherwise.
    """
    declared = parse_arkindex_yml(text)
    result = ImportResult(version=declared.version)
    if declared.published_by_ci:
        return result
    url = revision_url(repository.url, commit_hash)
    with transaction.atomic():
        for worker_declared in declared.workers:
            worker, created = services.worker_create(
                user=user,
                name=worker_declared.name,
                slug=worker_declared.slug,
                type=worker_declared.type,
                description=worker_declared.description or "",
                repository_url=repository.url,
            )
            if created:
                share_with_repository(worker, repository)
            else:
                services.worker_update(
                    worker=worker,
                    name=worker_declared.name,
                    type=worker_declared.type,
                    description=worker_declared.description,
                )
            existing = WorkerVersion.objects.filter(worker=worker, revision_url=url).first()
            if existing is not None:
                existing.worker = worker
                result.versions.append((existing, False))
                continue
            version = services.worker_version_create(
                worker=worker,
                configuration=worker_declared.configuration,
                revision_url=url,
                tag=tag,
                branch=branch,
                gpu_usage=worker_declared.gpu_usage,
                model_usage=worker_declared.model_usage,
            )
            result.versions.append((version, True))
    return result
