"""Market analytics for mechanical flows: calendar, funds, market data, flow models.

Nothing in this package knows about chat platforms or databases.
"""
