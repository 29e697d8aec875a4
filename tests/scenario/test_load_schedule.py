"""The schedule of a scenario: cron expressions and time zones, with exact messages."""

from __future__ import annotations

from tests.scenario.load_world import InvalidCase, edit_case_tests

CASES: list[InvalidCase] = [
    (
        "cron_with_four_fields",
        '"0 3 * * *"',
        '"0 3 * *"',
        [
            "s.yaml:25: schedule.cron: cron '0 3 * *': expected 5 fields (minute hour"
            " day-of-month month day-of-week), got 4",
        ],
    ),
    (
        "cron_value_out_of_range",
        '"0 3 * * *"',
        '"0 25 * * *"',
        ["s.yaml:25: schedule.cron: cron hour field '25': 25 is out of range 0-23"],
    ),
    (
        "cron_zero_step",
        '"0 3 * * *"',
        '"*/0 3 * * *"',
        [
            "s.yaml:25: schedule.cron: cron minute field '*/0': expected a step from 1 to 60"
            " after '/'"
        ],
    ),
    (
        "cron_unknown_name",
        '"0 3 * * *"',
        '"0 3 * foo *"',
        [
            "s.yaml:25: schedule.cron: cron month field 'foo': expected a number from 1 to 12,"
            " or a name (jan-dec)",
        ],
    ),
    (
        "cron_reversed_range",
        '"0 3 * * *"',
        '"0 3 * * fri-mon"',
        [
            "s.yaml:25: schedule.cron: cron day of week field 'fri-mon': expected a range"
            " low-high with low <= high",
        ],
    ),
    (
        "cron_unknown_macro",
        '"0 3 * * *"',
        '"@reboot"',
        [
            "s.yaml:25: schedule.cron: cron '@reboot': expected five fields or one of @yearly,"
            " @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        ],
    ),
    (
        "time_zone_typo_suggests_the_zone",
        "Europe/Stockholm",
        "Europe/Stokholm",
        [
            "s.yaml:25: schedule.timezone: time zone 'Europe/Stokholm': expected an IANA time zone"
            " name such as UTC or Europe/Stockholm; did you mean 'Europe/Stockholm'?",
        ],
    ),
    (
        "time_zone_path_is_refused",
        "Europe/Stockholm",
        "../../etc/passwd",
        [
            "s.yaml:25: schedule.timezone: time zone '../../etc/passwd': expected an IANA time"
            " zone name such as UTC or Europe/Stockholm",
        ],
    ),
]


(
    test_invalid_schedule_is_reported_as_file_line_field_expected,
    test_no_raw_pydantic_output_ever_reaches_the_user,
) = edit_case_tests(CASES)
