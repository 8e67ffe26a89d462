import datetime

from django.core.management import call_command
from django.utils import timezone

from dashboard.management.commands.demo_load import demo_date
from dashboard.trends import period_label, trend_periods


def test_demo_date_counts_months_back_across_years():
    assert demo_date(datetime.date(2026, 2, 3), 3) == datetime.date(2025, 11, 15)
    assert demo_date(datetime.date(2026, 12, 31), 0) == datetime.date(2026, 12, 15)


def test_demo_load_spreads_batches_over_five_months(db, capsys):
    call_command("demo_load", "--limit", "40")
    today = timezone.localdate()
    expected = [period_label(demo_date(today, k), "month") for k in (5, 4, 3, 2, 1)]
    periods = trend_periods(by="month")
    assert [(p["period"], p["examples"]) for p in periods] == [(m, 40) for m in expected]
    assert [p["period"] for p in trend_periods(by="month", domain_prefix="pandalm")] == [expected[1], expected[4]]
