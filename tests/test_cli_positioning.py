"""`flows-bot positioning` through the real entry point: the JSON contract, the table with its
basis and SAMPLE DATA label, the chart, and bad input (exit 2, one line, nothing stored)."""

from __future__ import annotations

import json

from tests.clikit import assert_one_line_error, offline_settings, run  # noqa: F401 (autouse fixture)

CONTRACT = {
    "date",
    "price_change_pct",
    "oi_change_usd",
    "funding_rate",
    "long_short_ratio",
    "classification",
    "forced_flow_usd",
    "etf_flow_usd",
    "etf_flows_by_fund",
}


def test_json_contract_on_sample(capsys):
    code, out, err = run(
        capsys, "positioning", "BTC", "--source", "sample", "--as-of", "2025-06-02", "--days",
        "7", "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert {"days", "source", "basis"} <= payload.keys()
    assert len(payload["days"]) == 7 and payload["days"][-1]["date"] == "2025-06-02"
    for day in payload["days"]:
        assert day.keys() >= CONTRACT
        assert day["classification"] in {
            "short_covering", "new_longs", "new_shorts", "long_liquidation", "mixed",
        }  # fmt: skip
    assert "SAMPLE DATA" in payload["source"] and payload["sample"] is True
    # Weekends have no ETF session: unknown, never zero.
    saturday = next(d for d in payload["days"] if d["date"] == "2025-05-31")
    assert saturday["etf_flow_usd"] is None and saturday["etf_flows_by_fund"] == {}


def test_every_classification_occurs_in_a_sample_year(capsys):
    code, out, _ = run(
        capsys, "positioning", "BTC", "--source", "sample", "--as-of", "2025-06-02", "--days",
        "365", "--json",
    )  # fmt: skip
    assert code == 0
    seen = {day["classification"] for day in json.loads(out)["days"]}
    assert seen == {"short_covering", "new_longs", "new_shorts", "long_liquidation", "mixed"}


def test_table_and_chart(capsys, tmp_path):
    chart = tmp_path / "pos.png"
    code, out, err = run(
        capsys, "positioning", "SPY", "--source", "sample", "--as-of", "2025-06-02",
        "--chart", str(chart),
    )  # fmt: skip
    assert code == 0, err
    assert "SAMPLE DATA" in out and "Basis:" in out and "hedge unwind" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_asset_without_a_derivatives_market_says_so(capsys, tmp_path):
    code, out, err = run(capsys, "positioning", "AGG", "--source", "sample")
    assert_one_line_error(code, out, err, "AGG has no derivatives market")
    assert not (tmp_path / "charts").exists() and not (tmp_path / "flows-bot.db").exists()


def test_a_malformed_csv_row_names_file_and_line_and_stores_nothing(capsys, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "BTC.csv").write_text(
        "date,open,high,low,close,volume\n"
        + "".join(f"2024-12-0{d},1,1,1,{100 + d},1\n" for d in range(1, 8)),
        encoding="utf-8",
    )
    (data / "BTC_derivs.csv").write_text(
        "date,open_interest_usd,funding_rate,long_short_ratio\n"
        "2024-12-01,1e10,,\n2024-12-02,1.1e10,oops,\n",
        encoding="utf-8",
    )
    (data / "etf_flows.csv").write_text("date,fund,asset,flow_usd\n", encoding="utf-8")
    code, out, err = run(capsys, "positioning", "BTC", "--source", str(data), "--as-of",
                         "2024-12-07")  # fmt: skip
    assert_one_line_error(code, out, err, "BTC_derivs.csv line 3")
    assert not (tmp_path / "charts").exists() and not (tmp_path / "flows-bot.db").exists()


def test_bad_days_exit_2(capsys):
    code, out, err = run(capsys, "positioning", "BTC", "--source", "sample", "--days", "0")
    assert code == 2 and "must be at least 1" in err
    code, out, err = run(capsys, "positioning", "BTC", "--source", "sample", "--days", "400")
    assert_one_line_error(code, out, err, "at most 365")


async def test_flows_positioning_in_the_command_layer_with_its_chart(tmp_path) -> None:
    from storage.store import Store
    from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        reply = await adapter.command("positioning bitcoin")
        assert reply.sample and "SAMPLE DATA" in reply.to_text()
        assert reply.title.startswith("BTC positioning")
        assert {field.label for field in reply.fields} >= {"Classification", "Forced flow"}
        assert reply.chart_path is not None and reply.chart_path.exists()
        refused = await adapter.command("positioning AGG")
        assert refused.tone == "error" and "AGG has no derivatives market" in refused.summary
        usage = await adapter.command("positioning")
        assert usage.tone == "error" and "Usage" in usage.summary
    finally:
        await store.close()


async def test_positioning_on_data_that_ends_weeks_ago_answers_for_its_last_day(tmp_path) -> None:
    """Before, the window ran back from today and found no bars: "no bars between …"."""
    from tests.botkit import stale_chat_reply

    reply = await stale_chat_reply(tmp_path, "positioning bitcoin")
    assert reply.tone != "error", reply.summary
    assert reply.title == "BTC positioning — Fri Nov 20, 2026"
    assert reply.notice == "data ends Fri 2026-11-20 — 35 days ago"
    assert "data ends" not in (reply.body or "")
