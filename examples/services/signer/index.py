"""A handler that signs a message with cryptography's Ed25519 (native code, Amazon Linux 2)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    message = str((event or {}).get("message", "hello")).encode()
    signature = key.sign(message)
    key.public_key().verify(signature, message)
    return {"statusCode": 200, "signature_bytes": len(signature)}
