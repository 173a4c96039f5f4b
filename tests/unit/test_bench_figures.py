"""The bench's figures and its one way to try a measurement (tools/bench/figures.py, tools/measure.py)."""

from __future__ import annotations

import pytest

from tools.bench.figures import Figures, cell
from tools.measure import MeasureError, Progress, ToolError, attempt


@pytest.fixture
def figures():
    return Figures(Progress("bench-test"))


def test_a_measurement_that_works_gives_its_value_and_no_error(figures):
    f = figures.fig("x.rate", "x", "rate", "msg/s", "higher")
    value = figures.measure([f], 0, lambda: 42.0)
    f.add(value)
    assert value == 42.0 and f.errors == [] and f.complete()


def test_a_failed_measurement_is_recorded_on_every_figure_it_was_for(figures, capsys):
    a = figures.fig("x.a", "x", "a", "s", "lower")
    b = figures.fig("x.b", "x", "b", "s", "lower")

    def broken():
        raise MeasureError("the server did not answer\nmore detail")

    assert figures.measure([a, b], 1, broken, where="mail") is None
    assert a.errors == b.errors == ["run 2: mail: the server did not answer\nmore detail"]
    a.add(None)
    assert not a.complete() and cell(a.runs) == "FAILED"
    assert "FAILED: mail: the server did not answer" in capsys.readouterr().err


def test_a_figure_with_a_peer_is_complete_only_with_both(figures):
    f = figures.fig("x.e2e", "x", "e2e", "msg/s", "higher", peer="peer")
    f.add(10.0, None)
    assert not f.complete()
    f.add(12.0, 6.0)
    assert f.complete() and f.ratios() == [None, 2.0]


def test_unexpected_errors_are_not_swallowed(figures):
    f = figures.fig("x.y", "x", "y", "s", "lower")
    with pytest.raises(ZeroDivisionError):
        figures.measure([f], 0, lambda: 1 / 0)
    with pytest.raises(ToolError):
        figures.measure([f], 0, lambda: (_ for _ in ()).throw(ToolError("lab gone")))
    assert f.errors == []
    assert figures.measure([f], 0, lambda: (_ for _ in ()).throw(ToolError("lab gone")), errors=(ToolError,)) is None
    assert f.errors == ["run 1: lab gone"]


def test_attempt_hands_the_reason_to_the_caller():
    said = []
    assert attempt(lambda: "ok", said.append) == "ok" and said == []
    assert attempt(lambda: (_ for _ in ()).throw(MeasureError("why")), said.append) is None
    assert said == ["why"]


def test_a_chaos_check_that_cannot_be_carried_out_is_a_failed_check_and_the_campaign_goes_on(capsys):
    from tools import chaos

    campaign = chaos.Chaos(chaos.SMOKE, smoke=True)

    def broken():
        raise chaos.ChaosError("chaos_load fill: no answer\nmore")

    assert campaign.check("disk ftp", broken) == {"error": "chaos_load fill: no answer\nmore"}
    assert campaign.doc["failures"] == ["disk ftp: chaos_load fill: no answer"]
    assert campaign.check("disk news", lambda: {"stored": 3}) == {"stored": 3}
    assert len(campaign.doc["failures"]) == 1
    with pytest.raises(KeyError):                     # a bug in the tool is not a failed check
        campaign.check("disk smtp", lambda: {}["x"])
