"""Speed-ups of the full build that must not change its answer: regions read without importing
botocore, templates serialised by a faster writer, environments rendered once per content."""

from __future__ import annotations

import subprocess
import sys

from cfn import awsregions
from tests.conftest import PROJECT_ROOT


def test_known_regions_are_the_ones_botocore_answers():
    awsregions.known_regions.cache_clear()
    try:
        ours = awsregions.known_regions()
    finally:
        awsregions.known_regions.cache_clear()
    assert ours == awsregions.regions_from_botocore()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= ours
    assert "aws-global" not in ours  # an endpoint that is not a region


def test_custom_botocore_data_is_left_to_botocore(monkeypatch):
    monkeypatch.setenv("AWS_DATA_PATH", "/somewhere/models")
    monkeypatch.setattr(awsregions, "regions_from_botocore", lambda: frozenset({"xx-test-1"}))
    awsregions.known_regions.cache_clear()
    try:
        assert awsregions.known_regions() == {"xx-test-1"}
    finally:
        awsregions.known_regions.cache_clear()


def test_loading_the_configuration_does_not_import_botocore():
    code = "import sys; from cfn import config; config.load(); print('botocore' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
