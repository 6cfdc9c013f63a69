"Shared pytest options: `--runslow` also runs the tests (and notebook cells) that load the real models."
import os
import pytest

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run slow tests and `#| slow` notebook cells")

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: needs the real default models (minutes on a CPU); run with --runslow")
    if config.getoption("--runslow"): os.environ["STATESET_RUN_SLOW"] = "1"

def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)
