import pytest

from tests.services import fresh_redis_url


@pytest.fixture
def redis_url() -> str:
    """An emptied database of the Redis running on the machine."""
    return fresh_redis_url()
