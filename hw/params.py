"""Hardware parameters of the on-sensor encoder (documented in README, overridable on the CLI)."""

from model.description.design import DEFAULT_ADDER_LEVELS

# 40 MHz bunch crossings: each track must be encoded within one crossing.
LATENCY_BUDGET_NS = 25.0
# The clock period assumed when no committed timing report applies to the RTL (hw/clock.py): a
# common 250 MHz fabric clock, said to be assumed wherever it is used.
CLOCK_PERIOD_NS = 4.0
# da4ml splits the logic into pipeline stages of at most this many adder levels (its delay model
# counts adder levels, not nanoseconds); a design's [rtl] adder_levels overrides it.
ADDER_LEVELS_PER_STAGE = DEFAULT_ADDER_LEVELS
TOP_MODULE = "pixel_encoder_top"
CORE_MODULE = "pixel_encoder_core"


class ParameterError(ValueError):
    """A run parameter that would make the regression meaningless (message is one line)."""


def check(clock_ns: float | None = None, budget_ns: float | None = None, adder_levels: int | None = None) -> None:
    """Refuse, before any work, parameters under which a latency check or a pipeline means nothing."""
    if clock_ns is not None and not clock_ns > 0:
        raise ParameterError(f"clock period {clock_ns} ns: must be > 0")
    if budget_ns is not None and not budget_ns > 0:
        raise ParameterError(f"latency budget {budget_ns} ns: must be > 0")
    if adder_levels is not None and (int(adder_levels) != adder_levels or adder_levels < 1):
        raise ParameterError(f"adder levels per stage {adder_levels}: must be an integer >= 1")
