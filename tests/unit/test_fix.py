"""Integer coordinate parsing and printing."""
import support
from firmware import fix


def test_decimal_degrees_round_trip():
    assert fix.udeg_from_decimal("59.9123456") == 59912345
    assert fix.udeg_from_decimal("-10.5") == -10500000
    assert fix.udeg_from_decimal(" 9.1574736") == 9157473
    assert fix.format_udeg(59912345) == "59.912345"
    assert fix.format_udeg(-500) == "-0.000500"
    support.raises(ValueError, fix.udeg_from_decimal, "12.3a")
    support.raises(ValueError, fix.udeg_from_decimal, "")


def test_ddmm_minutes():
    # 3113.330650 N = 31 deg 13.330650 min = 31.2221775 deg
    assert fix.udeg_from_ddmm("3113.330650", "N") == 31222178
    assert fix.udeg_from_ddmm("12121.262554", "W") == -121354376
    support.raises(ValueError, fix.udeg_from_ddmm, "3175.0", "N")
    support.raises(ValueError, fix.udeg_from_ddmm, "31", "N")
