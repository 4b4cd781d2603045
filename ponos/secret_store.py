"""
Encryption at rest of the secrets given to workers.

Each secret is sealed with AES-256-GCM under one key derived (HKDF-SHA256) from the `SECRETS_KEY`
setting, which defaults to `SECRET_KEY`. Every secret has its own random 96-bit nonce, stored
beside the ciphertext. The secret's name is the associated data: GCM authenticates it with the
content, so a ciphertext copied onto another row (another name) fails to decrypt instead of
handing out the wrong secret, and any change to the stored bytes is detected.

Changing `SECRETS_KEY` (or `SECRET_KEY` while `SECRETS_KEY` is unset) makes every stored secret
unreadable: they must then be set again. Plaintexts are never logged.
"""

import logging
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from ponos.models import Secret

logger = logging.getLogger(__name__)

NONCE_SIZE = 12
# Fixed context of the derivation: the same SECRETS_KEY used elsewhere yields a different key.
HKDF_INFO = b"arkindex ponos secrets v1"
NAME_MAX_LENGTH = Secret._meta.get_field("name").max_length


class SecretDecryptionError(Exception):
    """The stored bytes do not decrypt with the current key and the secret's name."""


def secret_key():
    """The 32-byte AES key, derived from the setting each time so that tests may override it."""
    material = getattr(settings, "SECRETS_KEY", None) or settings.SECRET_KEY
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material.encode())


def encrypt(name, plaintext):
    """Seal `plaintext` (text or bytes) for the secret `name`: returns `(nonce, ciphertext)`."""
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    nonce = os.urandom(NONCE_SIZE)
    return nonce, AESGCM(secret_key()).encrypt(nonce, plaintext, name.encode())


def decrypt(secret):
    """The content of a Secret as text; SecretDecryptionError when it was tampered with or the key changed."""
    try:
        plaintext = AESGCM(secret_key()).decrypt(bytes(secret.nonce), bytes(secret.content), secret.name.encode())
    except (InvalidTag, ValueError):
        # The name only: the stored bytes say nothing useful and the content must never be logged.
        logger.error("Secret %r cannot be decrypted: wrong SECRETS_KEY, renamed row or altered bytes.", secret.name)
        raise SecretDecryptionError(
            f"The secret {secret.name!r} cannot be decrypted with the server's current SECRETS_KEY: "
            "an administrator must set it again."
        ) from None
    try:
        return plaintext.decode()
    except UnicodeDecodeError:
        raise SecretDecryptionError(f"The secret {secret.name!r} is not UTF-8 text.") from None


def validate_name(name):
    if not name or name != name.strip():
        raise ValidationError({"name": "A secret name cannot be empty or start or end with spaces."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"A secret name has at most {NAME_MAX_LENGTH} characters."})


def secret_set(*, name, value):
    """Create the secret `name` or replace its content; returns `(secret, created)`."""
    validate_name(name)
    if isinstance(value, bytes):
        try:
            value.decode()
        except UnicodeDecodeError:
            raise ValidationError({"value": "A secret must be UTF-8 text: encode binary files (base64)."}) from None
    nonce, content = encrypt(name, value)
    with transaction.atomic():
        return Secret.objects.update_or_create(name=name, defaults={"nonce": nonce, "content": content})


def secret_delete(*, name):
    """Delete the secret `name`; returns whether it existed."""
    deleted, _ = Secret.objects.filter(name=name).delete()
    return deleted > 0
