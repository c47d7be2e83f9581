"""tests/fuzz on CPython: the corpus replayed, hypothesis strategies per target, the short
mutation run. Hypothesis profiles: "test" (the default: few examples, derandomized, so `make
test` is fast and repeatable) and "fuzz" (`pytest tests/fuzz --hypothesis-profile=fuzz`: many
examples, a new random start each run). Neither keeps an example database: a failing example
is written to tests/fuzz/corpus/<target>/ instead, where both interpreters replay it; the
caches hypothesis keeps anyway go to out/hypothesis."""
import os
import sys

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

_HERE = os.path.dirname(os.path.abspath(__file__))
for p in (_HERE, os.path.join(os.path.dirname(_HERE), "unit"), os.path.dirname(os.path.dirname(_HERE))):
    if p not in sys.path:
        sys.path.insert(0, p)

import support  # noqa: E402,F401  (virtual time before anything imports asyncio)

# its caches (constants, unicode data) under out/, which `make clean` removes
set_hypothesis_home_dir(os.path.join(os.path.dirname(os.path.dirname(_HERE)), "out", "hypothesis"))
_COMMON = dict(database=None, deadline=None, print_blob=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.data_too_large])
settings.register_profile("test", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=3000, **_COMMON)
settings.load_profile(os.getenv("TRYGG_HYPOTHESIS", "test"))
