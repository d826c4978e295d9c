"""Token verification with the verified-token cache: expiry still holds for cached tokens."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from calendo.core.config import Settings
from calendo.core.security import TokenInvalid, TokenVerifier, create_token
from tests.conftest import SECRET


def _settings() -> Settings:
    return Settings(_env_file=None, env="test", secret_key=SECRET)  # type: ignore[call-arg]


def test_verified_tokens_are_remembered_and_expire() -> None:
    settings = _settings()
    verifier = TokenVerifier(settings)
    token, _, _ = create_token(
        settings, user_id=7, session_id=3, token_type="access", now=datetime.now(UTC)
    )
    first = verifier.decode(token, expected="access")
    assert verifier.decode(token, expected="access") is first  # served from the cache
    with pytest.raises(TokenInvalid):
        verifier.decode(token, expected="refresh")  # the type is part of the key
    verifier._verified[(token, "access")] = type(first)(
        first.user_id, first.session_id, first.token_type, first.jti, int(time.time()) - 1
    )
    with pytest.raises(TokenInvalid):
        verifier.decode(token, expected="access")


def test_expired_tokens_are_refused_before_caching() -> None:
    settings = _settings()
    past = datetime.now(UTC) - timedelta(hours=1)
    token, _, _ = create_token(settings, user_id=7, session_id=3, token_type="access", now=past)
    with pytest.raises(TokenInvalid):
        TokenVerifier(settings).decode(token, expected="access")
