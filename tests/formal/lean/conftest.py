import pytest

from formal.lean import repl as repl_module
from tests.formal.lean.transcripts import replay_children


@pytest.fixture(autouse=True)
def no_leaked_repl_processes():
    """Every test leaves no REPL process behind (ANCHORS 9), by the client's count and by /proc."""
    yield
    assert not repl_module.live_processes(), "LeanREPL processes still alive after the test"
    assert not replay_children(), "replay processes left behind after the test"
