"""Errors raised by the analytics layer.

Every error carries a one-line message meant for a user: what is wrong and, where possible, how to
fix it. The CLI prints it as is (exit code 2); chat adapters reply with it.
"""


class FlowsError(Exception):
    """Base class: a problem the user can act on."""


class InputError(FlowsError):
    """Bad user input: unknown asset, malformed date, date outside the data..."""


class FundsFileError(FlowsError):
    """The fund registry file is missing or malformed."""


class MarketDataError(FlowsError):
    """Market data could not be obtained or is unusable (network, unknown symbol, gap...)."""

    def __init__(self, symbol: str, source: str, reason: str) -> None:
        self.symbol = symbol
        self.source = source
        self.reason = reason
        super().__init__(f"{symbol} from {source}: {reason}")
