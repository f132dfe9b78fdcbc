"""Fixtures for the identity service's tests."""

# A real OpenID Connect provider (Node.js, oidc-provider) for the sign-in tests.
from tests.support.oidc_fixture import oidc_provider  # noqa: F401
