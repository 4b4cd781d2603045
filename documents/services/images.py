"""
IIIF images: registering an image served by a IIIF image server, and checking it.

An image is the pair (image server, path): the server is the base URL of a IIIF Image API
service, the path the image's identifier under it (URL-encoded, as in its URLs). Images belong to
no corpus: any signed-in person or task registers one by its URL (CreateIIIFURL) and reads it.

`iiif_image_create` finds the server whose URL is the longest prefix of the image's URL, or makes
one from the URL without its last segment (the identifier), and answers a 409 with `existing_id`
when that image is already known, as the clients expect (API.md §1.7). Without a width and height
it reads the image's `info.json` from the IIIF server, and the image is `checked` with the size
found there; with them it trusts them, reads nothing, and the image stays `unchecked` until
someone asks for a check (PartialUpdateImage with `status: checked`, `iiif_image_check`), which
reads `info.json` and fails when the server is unreachable or gives another size.

The server fetches `info.json` itself, with a timeout and a size limit, only over HTTP(S).
"""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Length
from rest_framework.exceptions import ValidationError

from arkindex.api.exceptions import Conflict
from documents.models import Image, ImageServer, ImageStatus

logger = logging.getLogger(__name__)

INFO_MAX_SIZE = 1024 * 1024
INFO_ACCEPT = "application/ld+json, application/json;q=0.9, */*;q=0.1"
SERVER_URL_MAX_LENGTH = ImageServer._meta.get_field("url").max_length
PATH_MAX_LENGTH = Image._meta.get_field("path").max_length


class ImageCheckError(Exception):
    """The IIIF server did not describe the image; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    version: int


def info_timeout():
    return float(getattr(settings, "IIIF_INFO_TIMEOUT", 15))


def iiif_version(context):
    """The IIIF Image API version of an `info.json`, from its `@context` (a URL or a list of them)."""
    contexts = context if isinstance(context, list) else [context]
    return 3 if any(isinstance(item, str) and "/image/3/" in item for item in contexts) else 2


def fetch_info(image_url):
    """The size and IIIF version that the image's `info.json` gives; `ImageCheckError` otherwise."""
    url = f"{image_url.rstrip('/')}/info.json"
    request = urllib.request.Request(url, headers={"Accept": INFO_ACCEPT, "User-Agent": "Arkindex image check"})
    try:
        with urllib.request.urlopen(request, timeout=info_timeout()) as response:
            body = response.read(INFO_MAX_SIZE + 1)
    except urllib.error.HTTPError as error:
        raise ImageCheckError(f"The IIIF server answered HTTP {error.code} for {url}.") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise ImageCheckError(f"The IIIF server could not be reached at {url}: {reason}.") from None
    if len(body) > INFO_MAX_SIZE:
        raise ImageCheckError(f"{url} is larger than {INFO_MAX_SIZE} bytes: it is not an image description.")
    try:
        info = json.loads(body)
    except ValueError:
        raise ImageCheckError(f"{url} is not JSON: it is not a IIIF image description.") from None
    if not isinstance(info, dict):
        raise ImageCheckError(f"{url} is not a JSON object: it is not a IIIF image description.")
    width, height = info.get("width"), info.get("height")
    if not all(isinstance(value, int) and not isinstance(value, bool) and value > 0 for value in (width, height)):
        raise ImageCheckError(f"{url} gives no positive integer width and height.")
    return ImageInfo(width=width, height=height, version=iiif_version(info.get("@context")))


def url_error(message):
    return ValidationError({"url": [message]})


def normalize_image_url(url):
    """The image's base URL: without `/info.json` or a trailing slash. 400 for a URL without identifier."""
    url = url.strip()
    url = url.removesuffix("/info.json").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise url_error("Send the http(s) URL of a IIIF image, without parameters: https://server/iiif/identifier")
    if parts.query or parts.fragment:
        raise url_error("A IIIF image URL has no query string or fragment: send the image's base URL.")
    if not parts.path.strip("/"):
        raise url_error("This URL names a server, not an image: add the image's identifier to it.")
    return url


def find_server(url):
    """The known server whose URL is the longest prefix of `url` at a path boundary, or None."""
    candidates = (
        ImageServer.objects.alias(target=Value(url)).filter(target__startswith=F("url")).order_by(Length("url").desc())
    )
    for server in candidates:
        base = server.url.rstrip("/")
        if len(url) > len(base) and url[len(base)] == "/" and url[len(base) + 1 :]:
            return server
    return None


def split_image_url(url):
    """
    `(server or None, server URL, path)` of an image URL: a known server's prefix, else everything
    up to the last segment (the identifier, URL-encoded as in its URLs).
    """
    server = find_server(url)
    if server is not None:
        base = server.url.rstrip("/")
        return server, server.url, url[len(base) + 1 :]
    base, _, path = url.rpartition("/")
    if len(base) > SERVER_URL_MAX_LENGTH:
        raise url_error(f"The image server's URL {base} is longer than {SERVER_URL_MAX_LENGTH} characters.")
    return None, base, path


def server_display_name(base_url):
    parts = urlsplit(base_url)
    return unquote(f"{parts.netloc}{parts.path}")[: ImageServer._meta.get_field("display_name").max_length]


def get_or_create_server(base_url, version):
    server, created = ImageServer.objects.get_or_create(
        url=base_url, defaults={"display_name": server_display_name(base_url), "version": version}
    )
    if created:
        logger.info("Created image server %s (IIIF %d)", base_url, version)
    return server


def existing_image_conflict(image_id):
    return Conflict("This image already exists: use it (RetrieveImage).", code="image_exists", existing_id=image_id)


def iiif_image_create(*, url, width=None, height=None):
    """
    Register the IIIF image at `url` (see the module's docstring): 409 with `existing_id` when it
    is known, 400 on `url` when its `info.json` cannot be read (nothing is then created).
    """
    url = normalize_image_url(url)
    server, base_url, path = split_image_url(url)
    if len(path) > PATH_MAX_LENGTH:
        raise url_error(f"The image's identifier is longer than {PATH_MAX_LENGTH} characters.")
    if server is not None:
        existing = Image.objects.filter(server=server, path=path).values_list("id", flat=True).first()
        if existing is not None:
            raise existing_image_conflict(existing)

    status, version = ImageStatus.Unchecked, 2
    if width is None:
        # Read before any write, outside a transaction: the IIIF server may be slow.
        try:
            info = fetch_info(url)
        except ImageCheckError as error:
            raise url_error(str(error)) from None
        width, height, version, status = info.width, info.height, info.version, ImageStatus.Checked

    try:
        with transaction.atomic():
            server = server or get_or_create_server(base_url, version)
            image = Image.objects.create(server=server, path=path, width=width, height=height, status=status)
    except IntegrityError:
        # Registered by a concurrent request since the lookup above.
        existing = Image.objects.filter(server__url=base_url, path=path).values_list("id", flat=True).first()
        if existing is None:
            raise
        raise existing_image_conflict(existing) from None
    image.server = server
    logger.info("Registered image %s (%s, %dx%d, %s)", image.id, url, width, height, status)
    return image


def iiif_image_check(image):
    """
    Read the image's `info.json` again: `checked` with its size when unknown (0) or equal to the
    known one, else `error`, saved either way; the error is a 400 on `status` saying why.
    """
    try:
        info = fetch_info(image.url)
        known = (image.width, image.height)
        if known != (0, 0) and known != (info.width, info.height):
            raise ImageCheckError(
                f"The IIIF server describes this image as {info.width}×{info.height} pixels, "
                f"but it was registered as {image.width}×{image.height}: register it again with the right size."
            )
    except ImageCheckError as error:
        image.status = ImageStatus.Error
        image.save(update_fields=["status", "updated"])
        raise ValidationError({"status": [str(error)]}) from None
    image.width, image.height, image.status = info.width, info.height, ImageStatus.Checked
    image.save(update_fields=["width", "height", "status", "updated"])
    return image
