"""Export and import bundles: a custom tool version as one signed JSON document.

A bundle holds a manifest (name, version, author, exporting instance's public key), the
definition (code, schemas, tests, trigger, scope), the SHA-256 content hash of name and
definition, and an Ed25519 signature over everything else. The signing key is derived from
the instance's audit key material (like the MCP request-state key), so it needs no key file
of its own; another instance accepts the bundle when its public key is trusted
(``custom_tools.trusted_keys``) or is its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from masterai.services.custom_tools.spec import ToolSpec, canonical_json, check_name, content_hash
from masterai.services.custom_tools.vocab import BundleError
from masterai.services.errors import InvalidInputError
from masterai.store.models import utcnow

FORMAT = "masterai-custom-tool"
SEAL = "seal"
"""The key of the signature block (not ``signature``: outputs redact keys named like secrets)."""
DERIVATION = b"masterai custom tool bundles"
"""What the audit key signs to make the bundle seed (one purpose, one derived key)."""


class BundleSigner:
    """Signs bundles with this instance's key and checks others' signatures.

    Args:
        seed: returns 32 secret bytes (called on first use: constructing opens nothing).
        trusted: public keys (hex) of other instances whose bundles are accepted.
    """

    def __init__(self, seed: Callable[[], bytes], trusted: Sequence[str] = ()) -> None:
        self._seed = seed
        self._key: Ed25519PrivateKey | None = None
        self._trusted = frozenset(k.lower() for k in trusted)

    @classmethod
    def from_audit_key(
        cls, sign: Callable[[bytes], str], trusted: Sequence[str] = ()
    ) -> BundleSigner:
        """A signer whose seed is the audit key's HMAC of :data:`DERIVATION`."""
        return cls(lambda: hashlib.sha256(sign(DERIVATION).encode()).digest(), trusted)

    def _private(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = Ed25519PrivateKey.from_private_bytes(self._seed())
        return self._key

    @property
    def public_key(self) -> str:
        """This instance's public key (hex): what another instance lists to trust it."""
        raw = self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return raw.hex()

    def sign(self, body: Mapping[str, Any]) -> dict[str, str]:
        """The signature block (``seal``) of ``body``: algorithm, signer's public key, value."""
        value = self._private().sign(canonical_json(dict(body)))
        return {"algorithm": "ed25519", "signer": self.public_key, "value": value.hex()}

    def verify(self, bundle: Mapping[str, Any]) -> str:
        """The signer's public key if ``bundle``'s signature is valid and trusted.

        Raises:
            BundleError: no signature, a bad one, or a signer this instance does not trust.
        """
        seal = bundle.get(SEAL)
        if not isinstance(seal, Mapping) or seal.get("algorithm") != "ed25519":
            raise BundleError("the bundle has no ed25519 signature ('seal')")
        key_hex, value = seal.get("signer"), seal.get("value")
        if not isinstance(key_hex, str) or not isinstance(value, str):
            raise BundleError("the bundle's signature block ('seal') is malformed")
        body = {k: v for k, v in bundle.items() if k != SEAL}
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
            key.verify(bytes.fromhex(value), canonical_json(body))
        except (ValueError, InvalidSignature):
            raise BundleError(
                "the bundle's signature does not match its content: it was changed after "
                "it was signed"
            ) from None
        if key_hex.lower() != self.public_key and key_hex.lower() not in self._trusted:
            raise BundleError(
                f"the bundle is signed by key {key_hex[:16]}..., which this instance does not "
                "trust; add it to MASTERAI_CUSTOM_TOOLS__TRUSTED_KEYS to accept its bundles"
            )
        return key_hex


def make_bundle(
    signer: BundleSigner, *, name: str, version: int, spec: ToolSpec, author: str
) -> dict[str, Any]:
    """A signed bundle of one version."""
    definition = spec.canonical()
    body = {
        "format": FORMAT,
        "format_version": 1,
        "manifest": {
            "name": name,
            "version": version,
            "description": spec.description,
            "language": spec.language,
            "trigger": spec.trigger,
            "author": author,
            "exported_at": utcnow().isoformat(),
            "instance": signer.public_key,
        },
        "definition": definition,
        "content_hash": content_hash({"name": name, **definition}),
    }
    return {**body, SEAL: signer.sign(body)}


def open_bundle(signer: BundleSigner, bundle: Any) -> tuple[str, ToolSpec, dict[str, Any]]:
    """Check a bundle: its shape, content hash and signature.

    Returns:
        The tool name, its spec and the provenance to record (author, signer, hash).

    Raises:
        BundleError: malformed, changed, or signed by an untrusted key.
        InvalidInputError: the definition inside is not a valid tool.
    """
    if not isinstance(bundle, Mapping) or bundle.get("format") != FORMAT:
        raise BundleError(f"not a custom tool bundle (format must be {FORMAT!r})")
    manifest, definition = bundle.get("manifest"), bundle.get("definition")
    if not isinstance(manifest, Mapping) or not isinstance(definition, Mapping):
        raise BundleError("the bundle needs a 'manifest' and a 'definition' object")
    name = check_name(manifest.get("name"))
    expected = content_hash({"name": name, **definition})
    if bundle.get("content_hash") != expected:
        raise BundleError(
            "the bundle's content hash does not match its definition: it was changed "
            f"(hash {str(bundle.get('content_hash'))[:16]}..., content {expected[:16]}...)"
        )
    signer_key = signer.verify(bundle)
    try:
        spec = ToolSpec.from_mapping(definition).checked()
    except InvalidInputError as e:
        raise BundleError(f"the bundle's definition is not valid: {e}") from e
    provenance = {
        "bundle_author": manifest.get("author"),
        "bundle_version": manifest.get("version"),
        "signed_by": signer_key,
        "content_hash": expected,
        "exported_at": manifest.get("exported_at"),
    }
    return name, spec, provenance
