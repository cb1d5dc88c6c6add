import pytest

from tests.partners import factories as f


@pytest.fixture
def channel(db):
    """Two channel managers (four-eyes needs a second person) and the paying entity."""
    f.entity()
    return f.user("cm-alice", "channel_manager"), f.user("cm-bob", "channel_manager")
