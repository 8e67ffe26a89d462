"""Input drift, alarms and the rate figures (intervals, agreement, calibration)."""
