"""Dealer gamma: GEX, the zero-gamma ("flip") level, call and put walls, and the hedge flow.

Convention (stated wherever the figure is shown): dealers are long calls and short puts, so

    GEX_i = sign_i · Γ_i · OI_i · multiplier_i · S² · 0.01     (USD per 1 % move of S)

with sign +1 for calls and −1 for puts, Γ the Black–Scholes gamma with T = (expiry − as_of).days
/ 365 (expiries on or before as_of excluded), risk-free rate r, no dividends. Total GEX > 0 is
`long_gamma` (dealers sell rallies and buy dips: moves are damped), < 0 `short_gamma` (they buy
rallies and sell dips: moves are amplified). The hedge flow for a move of `move_pct` percent is
`hedge_usd = −GEX_total · move_pct`.

Everything is vectorised over the chain: GEX_i(x)/x = w_i · φ(d1_i(x)) with per-contract
constants, so total GEX on a grid of spot levels is one exp over a (grid × contracts) array and
one matrix-vector product.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from flows.errors import InputError, MarketDataError
from flows.models.estimate import FlowEstimate, FlowTiming
from flows.options.chain import OptionChain

DEFAULT_RATE = 0.04
CONVENTION = (
    "dealers long calls, short puts; GEX = sign·Γ·OI·multiplier·S²·0.01 (USD per 1% move), "
    "Black–Scholes, no dividends"
)
SEARCH_LOW, SEARCH_HIGH = 0.5, 1.5
"""The zero-gamma search range, as fractions of spot."""
SEARCH_TOLERANCE = 1e-4
"""Zero gamma is found to 0.01 % of spot."""
GRID_POINTS = 201
"""Spot levels scanned for sign changes before refining (0.5 % of spot apart)."""
HEDGE_MOVES = (-2.0, -1.0, 1.0, 2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

Regime = Literal["long_gamma", "short_gamma"]


def bs_gamma(
    spot: float | np.ndarray,
    strike: np.ndarray,
    years: np.ndarray,
    vol: np.ndarray,
    rate: float,
) -> np.ndarray:
    """Black–Scholes gamma (no dividends), vectorised; 0 where vol or T is zero."""
    spot = np.asarray(spot, dtype=float)
    root = vol * np.sqrt(years)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(spot / strike) + (rate + 0.5 * vol**2) * years) / root
        gamma = np.exp(-0.5 * d1**2) / (_SQRT_2PI * spot * root)
    return np.where(root > 0, gamma, 0.0)


@dataclass(frozen=True)
class PreparedChain:
    """The contracts that count on `as_of`, with the constants GEX(x) needs."""

    strike: np.ndarray
    expiry: np.ndarray
    is_call: np.ndarray
    years: np.ndarray
    vol: np.ndarray
    exposure: np.ndarray
    """sign · OI · multiplier"""
    log_strike_drift: np.ndarray
    """ln K − (r + σ²/2)·T: d1(x) = (ln x − this) / (σ√T)"""
    inv_root: np.ndarray
    """1 / (σ√T), 0 for contracts with no vol (they carry no gamma)"""
    weight: np.ndarray
    """exposure · 0.01 / (σ√T · √(2π)): GEX_i(x) = x · weight_i · exp(−d1²/2)"""
    excluded_expired: int


def prepare(chain: OptionChain, rate: float) -> PreparedChain:
    as_of = np.datetime64(chain.as_of, "D")
    days = (chain.expiry - as_of).astype(int)
    live = days > 0
    if not live.any():
        raise MarketDataError(
            chain.asset,
            chain.source,
            f"every option in the chain expires on or before {chain.as_of}",
        )
    strike, vol = chain.strike[live], chain.implied_vol[live]
    years = days[live] / 365.0
    sign = np.where(chain.is_call[live], 1.0, -1.0)
    exposure = sign * chain.open_interest[live] * chain.multiplier[live]
    if not (chain.open_interest[live] > 0).any():
        raise MarketDataError(
            chain.asset, chain.source, f"no open interest in options expiring after {chain.as_of}"
        )
    root = vol * np.sqrt(years)
    with np.errstate(divide="ignore"):
        inv_root = np.where(root > 0, 1.0 / np.where(root > 0, root, 1.0), 0.0)
    return PreparedChain(
        strike=strike,
        expiry=chain.expiry[live],
        is_call=chain.is_call[live],
        years=years,
        vol=vol,
        exposure=exposure,
        log_strike_drift=np.log(strike) - (rate + 0.5 * vol**2) * years,
        inv_root=inv_root,
        weight=exposure * 0.01 * inv_root / _SQRT_2PI,
        excluded_expired=int((~live).sum()),
    )


def contract_gex(prepared: PreparedChain, spot: float) -> np.ndarray:
    """GEX_i at spot `spot`, USD per 1 % move, signed by the dealer convention."""
    d1 = (math.log(spot) - prepared.log_strike_drift) * prepared.inv_root
    return spot * prepared.weight * np.exp(-0.5 * d1 * d1)


def total_gex_curve(
    prepared: PreparedChain, levels: np.ndarray, dtype: type = np.float64
) -> np.ndarray:
    """Total GEX recomputed at each spot level (same vols and T). `np.float32` halves the
    memory traffic for the grid scan; every reported figure is computed in float64."""
    levels = np.asarray(levels, dtype=float)
    d1 = np.log(levels).astype(dtype)[:, None] - prepared.log_strike_drift.astype(dtype)[None, :]
    np.multiply(d1, prepared.inv_root.astype(dtype), out=d1)
    np.multiply(d1, d1, out=d1)
    np.multiply(d1, dtype(-0.5), out=d1)
    np.exp(d1, out=d1)
    return levels * (d1 @ prepared.weight.astype(dtype)).astype(float)


def zero_gamma(prepared: PreparedChain, spot: float) -> float | None:
    """The spot level in [0.5·S, 1.5·S] where total GEX changes sign, nearest to S, to 0.01 %
    of S; None when it does not change sign there.

    Sign changes are located on a grid 0.5 % of S apart (scanned in float32), each bracket near
    spot is re-checked in float64 with its neighbours and refined with Brent's method."""
    from scipy.optimize import brentq

    levels = np.linspace(SEARCH_LOW * spot, SEARCH_HIGH * spot, GRID_POINTS)
    signs = np.sign(total_gex_curve(prepared, levels, np.float32))
    rough = np.flatnonzero(signs[:-1] * signs[1:] < 0)
    if not len(rough):
        return None
    # The nearest root lies in one of the brackets closest to S; float32 may misplace a sign
    # change by a cell, so each is re-examined in float64 one cell either side.
    nearest = sorted(rough, key=lambda i: min(abs(levels[i] - spot), abs(levels[i + 1] - spot)))
    cells = sorted({j for i in nearest[:4] for j in (i - 1, i, i + 1) if 0 <= j < GRID_POINTS - 1})
    points = sorted({j for i in cells for j in (i, i + 1)})
    exact = dict(zip(points, total_gex_curve(prepared, levels[points]), strict=True))

    def total(x: float) -> float:
        return float(contract_gex(prepared, x).sum())

    candidates = []
    for i in cells:
        if exact[i] * exact[i + 1] < 0:
            candidates.append(
                brentq(total, levels[i], levels[i + 1], xtol=SEARCH_TOLERANCE * spot * 0.5)
            )
    if not candidates:
        return None
    return min(candidates, key=lambda x: abs(x - spot))


@dataclass(frozen=True)
class ExpiryGex:
    expiry: dt.date
    gex_usd_per_pct: float
    share: float
    """|GEX of the expiry| / Σ |GEX of each expiry|: the part of dealer gamma it holds."""


@dataclass(frozen=True)
class GammaResult:
    asset: str
    as_of: dt.date
    spot: float
    spot_basis: str
    rate: float
    gex_usd_per_pct: float
    regime: Regime
    zero_gamma: float | None
    call_wall: float | None
    put_wall: float | None
    by_expiry: list[ExpiryGex]
    hedge_usd: dict[str, float]
    contracts: int
    source: str
    basis: str
    sample: bool
    gross_gex_usd_per_pct: float
    strikes: np.ndarray = field(repr=False)
    call_gex_by_strike: np.ndarray = field(repr=False)
    put_gex_by_strike: np.ndarray = field(repr=False)

    @property
    def zero_gamma_distance_pct(self) -> float | None:
        if self.zero_gamma is None:
            return None
        return (self.zero_gamma / self.spot - 1.0) * 100.0

    def hedge_for(self, move_pct: float) -> float:
        return hedge_usd(self.gex_usd_per_pct, move_pct)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "as_of": self.as_of.isoformat(),
            "spot": self.spot,
            "rate": self.rate,
            "gex_usd_per_pct": self.gex_usd_per_pct,
            "regime": self.regime,
            "zero_gamma": self.zero_gamma,
            "zero_gamma_distance_pct": self.zero_gamma_distance_pct,
            "call_wall": self.call_wall,
            "put_wall": self.put_wall,
            "by_expiry": [
                {
                    "expiry": item.expiry.isoformat(),
                    "gex_usd_per_pct": item.gex_usd_per_pct,
                    "share": item.share,
                }
                for item in self.by_expiry
            ],
            "hedge_usd": dict(self.hedge_usd),
            "contracts": self.contracts,
            "source": self.source,
            "basis": self.basis,
        }


def hedge_usd(gex_usd_per_pct: float, move_pct: float) -> float:
    """The dealers' hedge trade (USD, + buy) for a move of `move_pct` percent: −GEX · move."""
    return -gex_usd_per_pct * move_pct


def move_key(move_pct: float) -> str:
    return f"{move_pct:+g}%"


def validate_rate(rate: float) -> float:
    if not math.isfinite(rate) or not -0.05 <= rate <= 0.25:
        raise InputError(f"--rate {rate:g} is outside -0.05..0.25; give it as a fraction (0.04)")
    return rate


def validate_spot(spot: float) -> float:
    if not math.isfinite(spot) or spot <= 0:
        raise InputError(f"--spot {spot:g} must be a positive price")
    return spot


def compute_gamma(
    chain: OptionChain,
    spot: float,
    rate: float = DEFAULT_RATE,
    *,
    spot_basis: str = "",
) -> GammaResult:
    """The whole dealer-gamma picture of `chain` at `spot`."""
    validate_spot(spot)
    validate_rate(rate)
    prepared = prepare(chain, rate)
    per_contract = contract_gex(prepared, spot)
    total = float(per_contract.sum())
    gross = float(np.abs(per_contract).sum())

    strikes, strike_index = np.unique(prepared.strike, return_inverse=True)
    calls = np.bincount(
        strike_index, weights=np.where(prepared.is_call, per_contract, 0.0), minlength=len(strikes)
    )
    puts = np.bincount(
        strike_index, weights=np.where(prepared.is_call, 0.0, per_contract), minlength=len(strikes)
    )
    call_wall = float(strikes[np.argmax(calls)]) if (calls > 0).any() else None
    put_wall = float(strikes[np.argmax(-puts)]) if (puts < 0).any() else None

    expiries, expiry_index = np.unique(prepared.expiry, return_inverse=True)
    by_expiry_gex = np.bincount(expiry_index, weights=per_contract, minlength=len(expiries))
    gross_by_expiry = np.abs(by_expiry_gex).sum()
    by_expiry = [
        ExpiryGex(
            expiry=day.astype(dt.date),
            gex_usd_per_pct=float(value),
            share=float(abs(value) / gross_by_expiry) if gross_by_expiry > 0 else 0.0,
        )
        for day, value in zip(expiries, by_expiry_gex, strict=True)
    ]
    flip = zero_gamma(prepared, spot)
    dropped = dict(chain.dropped)
    if prepared.excluded_expired:
        dropped["expired on or before as-of"] = prepared.excluded_expired
    left_out = "; ".join(f"{count} {why}" for why, count in dropped.items())
    sample = " — SAMPLE DATA" if chain.is_sample else ""
    basis = (
        f"{chain.description}; {len(prepared.strike)} contracts, {len(expiries)} expiries"
        + (f" (left out: {left_out})" if left_out else "")
        + f"; spot {spot:,.2f} ({spot_basis or 'given'}); r = {rate:g}; {CONVENTION}{sample}"
    )
    return GammaResult(
        asset=chain.asset,
        as_of=chain.as_of,
        spot=float(spot),
        spot_basis=spot_basis or "given",
        rate=rate,
        gex_usd_per_pct=total,
        regime="long_gamma" if total >= 0 else "short_gamma",
        zero_gamma=None if flip is None else float(flip),
        call_wall=call_wall,
        put_wall=put_wall,
        by_expiry=by_expiry,
        hedge_usd={move_key(m): hedge_usd(total, m) for m in HEDGE_MOVES},
        contracts=len(prepared.strike),
        source=chain.source,
        basis=basis,
        sample=chain.is_sample,
        gross_gex_usd_per_pct=gross,
        strikes=strikes,
        call_gex_by_strike=calls,
        put_gex_by_strike=puts,
    )


def gamma_estimates(
    result: GammaResult, moves_pct: tuple[float, ...] = (-1.0, 1.0)
) -> list[FlowEstimate]:
    """The dealers' hedge flow for each move, as `FlowEstimate`s (scenario: it rests on the
    move). They trade during the session as the price moves."""
    return [
        FlowEstimate(
            source=f"gamma:{move_key(move)}",
            asset=result.asset,
            usd=result.hedge_for(move),
            timing=FlowTiming(kind="intraday", start=result.as_of),
            basis=f"dealer gamma hedge for a {move_key(move)} move: −GEX·move with GEX "
            f"{result.gex_usd_per_pct:,.0f} USD per 1% ({result.basis})",
            confidence="scenario",
        )
        for move in moves_pct
    ]
