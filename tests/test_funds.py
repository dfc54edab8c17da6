"""The fund registry: the built-in file and every way a user's file can be wrong."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from flows.assets import ASSETS
from flows.errors import FundsFileError
from flows.funds import BUILT_IN, load_registry, parse_registry

GOOD_FUND = """\
[[fund]]
name = "Model 60/38/2"
aum_usd = 5.0e9
rebalance = "quarterly"
aum_source = "illustrative"
weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "funds.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(FundsFileError) as info:
        load_registry(_write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    assert str(tmp_path / "funds.toml") in message, "errors name the file"
    return message


# --- the built-in registry ---------------------------------------------------------------------


def test_built_in_registry_loads():
    registry = load_registry()
    assert registry.source == BUILT_IN
    assert len(registry.funds) >= 5
    assert registry.vol_targets_on("SPY"), "an aggregate of US equity vol-control funds"
    assert registry.holding("BTC") and registry.holding("AGG")
    assert registry.programs_holding("ETH"), "a crypto index fund holds ETH (not sized)"
    ids = {program.id for program in registry.programs}
    # The named programs: the Fidelity All-in-One family, BlackRock's models and at
    # least two adviser guidance programs, all with sources.
    assert {"fidelity-fbal", "fidelity-fcns", "fidelity-feqt", "fidelity-fgro"} <= ids
    assert "blackrock-target-allocation-alts" in ids
    guidance = [p for p in registry.programs if p.kind == "guidance"]
    assert len(guidance) >= 2 and all(p.scenario for p in guidance)
    assert len(registry.programs) >= 10
    # Each calendar is represented, and Fidelity's rule is annual with its bands.
    assert {p.rebalance for p in registry.programs} >= {"monthly", "quarterly", "annual"}
    fbal = next(p for p in registry.programs if p.id == "fidelity-fbal")
    assert fbal.rebalance == "annual" and fbal.tickers == ("FBAL.TO",) and fbal.currency == "CAD"
    assert fbal.effective_rule.bands[0].max_multiple == 2.0
    assert registry.symbols == registry.all_symbols()


def test_no_built_in_figure_is_illustrative_and_every_program_is_sourced():
    text = (Path(__file__).parents[1] / "flows" / "funds.toml").read_text(encoding="utf-8")
    assert "illustrative" not in text.lower()
    for program in load_registry().programs:
        assert program.sources, program.id
        assert all(s.url.startswith("https://") and s.title and s.date for s in program.sources)
        if program.aum_usd is not None:
            assert program.aum_as_of is not None, program.id
            assert str(program.aum_as_of) in program.aum_source, program.id
        else:
            assert program.unsized_reason(), program.id


def test_built_in_weights_sum_to_one_and_are_fractions():
    # Sized programs' sleeves sum to 1 (unsized ones may list only their documented sleeves).
    for fund in load_registry().funds:
        assert math.isclose(sum(fund.weights.values()), 1.0, abs_tol=1e-9), fund.name
        assert all(0 < w <= 1 for w in fund.weights.values()), fund.name


def test_every_built_in_aum_says_where_it_comes_from():
    registry = load_registry()
    entries = (*registry.funds, *registry.vol_targets, *registry.leveraged)
    for entry in entries:
        assert entry.aum_source.strip(), entry.name
        assert entry.aum_usd > 0, entry.name
    names = [entry.name for entry in entries]
    assert len(names) == len(set(names))


def test_built_in_symbols_are_known_assets():
    registry = load_registry()
    fund_symbols = {s for fund in registry.funds for s in fund.weights}
    fund_symbols |= {entry.underlying for entry in registry.vol_targets}
    assert fund_symbols <= set(ASSETS)


def test_user_file_replaces_the_built_in_one(tmp_path):
    registry = load_registry(_write(tmp_path, GOOD_FUND))
    assert registry.source == str(tmp_path / "funds.toml")
    assert [f.name for f in registry.funds] == ["Model 60/38/2"]
    fund = registry.funds[0]
    assert fund.weights == {"SPY": 0.60, "AGG": 0.38, "BTC": 0.02}
    assert fund.aum_usd == 5.0e9
    assert registry.vol_targets == () and registry.leveraged == ()
    assert registry.symbols == {"SPY", "AGG", "BTC"}


def test_vol_target_and_lower_case_symbols(tmp_path):
    text = GOOD_FUND.replace("SPY = 0.60", "spy = 0.60") + textwrap.dedent(
        """
        [[vol_target]]
        name = "Vol control"
        underlying = "spy"
        aum_usd = 1e11
        target_vol = 0.10
        max_exposure = 1.5
        aum_source = "illustrative"
        """
    )
    registry = load_registry(_write(tmp_path, text))
    assert "SPY" in registry.funds[0].weights
    (entry,) = registry.vol_targets_on("SPY")
    assert (entry.target_vol, entry.max_exposure, entry.aum_usd) == (0.10, 1.5, 1e11)


# --- malformed files ----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FundsFileError, match=r"not found") as info:
        load_registry(tmp_path / "nope.toml")
    assert "nope.toml" in str(info.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(FundsFileError, match="cannot be read"):
        load_registry(tmp_path)


def test_weights_not_summing_to_one_name_the_fund_and_line(tmp_path):
    text = GOOD_FUND + textwrap.dedent(
        """
        [[fund]]
        name = "Lopsided"
        aum_usd = 1e9
        rebalance = "monthly"
        aum_source = "illustrative"
        weights = { SPY = 0.60, AGG = 0.30 }
        """
    )
    message = _error(tmp_path, text)
    assert "'Lopsided'" in message
    assert "line 9" in message  # the line of `name = "Lopsided"`
    assert "0.9" in message and "sum to 1" in message


def test_bad_toml_gives_the_line(tmp_path):
    message = _error(tmp_path, GOOD_FUND.replace("aum_usd = 5.0e9", "aum_usd = 5.0e9 $"))
    assert "not valid TOML" in message
    assert "line 3" in message


def test_unknown_field(tmp_path):
    message = _error(tmp_path, GOOD_FUND + 'colour = "blue"\n')
    assert "unknown field 'colour'" in message
    assert "'Model 60/38/2' line 2" in message


def test_missing_field(tmp_path):
    text = "\n".join(line for line in GOOD_FUND.splitlines() if "aum_source" not in line)
    message = _error(tmp_path, text)
    assert "missing aum_source" in message
    assert "'Model 60/38/2' line 2" in message


def test_bad_rebalance_value(tmp_path):
    message = _error(tmp_path, GOOD_FUND.replace('"quarterly"', '"yearly"'))
    assert "rebalance must be 'quarterly' or 'monthly'" in message
    assert "'yearly'" in message and "'Model 60/38/2' line 2" in message


def test_duplicate_name(tmp_path):
    message = _error(tmp_path, GOOD_FUND + "\n" + GOOD_FUND)
    assert "'Model 60/38/2' is used twice" in message
    assert "line 2" in message


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("aum_usd = 5.0e9", 'aum_usd = "lots"', "aum_usd must be a number"),
        ("aum_usd = 5.0e9", "aum_usd = -1.0", "aum_usd must be greater than 0"),
        ("aum_usd = 5.0e9", "aum_usd = nan", "aum_usd must be a number"),
        ("BTC = 0.02", "BTC = -0.02", "weight of BTC must be a number above 0"),
        ("BTC = 0.02", 'BTC = "2%"', "weight of BTC must be a number above 0"),
        (
            "weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }",
            "weights = {}",
            "weights must be a table",
        ),
        ('aum_source = "illustrative"', 'aum_source = "  "', "aum_source must be a non-empty"),
        # Weights given in percent instead of fractions.
        (
            "weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }",
            "weights = { SPY = 60, AGG = 38, BTC = 2 }",
            "weights sum to 100",
        ),
    ],
)
def test_bad_values_name_the_fund(tmp_path, old, new, fragment):
    message = _error(tmp_path, GOOD_FUND.replace(old, new))
    assert fragment in message
    assert "'Model 60/38/2' line 2" in message


def test_unknown_section_and_empty_file(tmp_path):
    assert "unknown section 'funds'" in _error(tmp_path, GOOD_FUND.replace("[[fund]]", "[[funds]]"))
    assert "defines no [[fund]] entries" in _error(tmp_path, "# nothing here\n")
    assert "write each entry as [[fund]]" in _error(tmp_path, "fund = 3\n")


def test_vol_target_errors_name_the_entry(tmp_path):
    text = GOOD_FUND + textwrap.dedent(
        """
        [[vol_target]]
        name = "Vol control"
        underlying = "SPY"
        aum_usd = 1e11
        target_vol = 0
        max_exposure = 1.5
        aum_source = "illustrative"
        """
    )
    message = _error(tmp_path, text)
    assert "[[vol_target]] 'Vol control' line 9" in message
    assert "target_vol must be greater than 0" in message


def test_parse_registry_source_label():
    registry = parse_registry(GOOD_FUND, "inline")
    assert registry.source == "inline"
    with pytest.raises(FundsFileError, match="funds file inline"):
        parse_registry(GOOD_FUND.replace("0.02", "0.03"), "inline")
