"""Speed-ups of the full build that must not change its answer: regions read without importing
botocore, templates serialised by a faster writer, environments rendered once per content."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfn import awsregions, config, jsontext, render
from cfn.stacks import bootstrap
from tests import scale
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


# -- the templates' JSON text -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities included, as json.dumps writes them
    | st.text(),  # any code point: quotes, backslashes, control characters, non-ASCII
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)


def standard(data):
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


@settings(max_examples=400, database=None, deadline=None)
@given(JSON_VALUES)
def test_the_json_writer_writes_what_the_standard_library_writes(data):
    assert jsontext.dumps(data) == standard(data)


def test_what_the_json_writer_leaves_to_the_standard_library():
    numbered = {10: "a", 2: [1.5, None], 1: {"b": True}}  # sorted as numbers, then written
    assert jsontext.dumps(numbered) == standard(numbered)
    for unwritable in ({"when": object()}, {1: "a", "b": 2}):
        with pytest.raises(TypeError):
            standard(unwritable)
        with pytest.raises(TypeError):
            jsontext.dumps(unwritable)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        jsontext.dumps(loop)


def test_every_template_of_a_large_platform_is_the_standard_librarys_text(raw):
    platform = config.from_dict(scale.with_services(raw, 12))
    for env in platform.environments.values():
        builders = [
            *render.nested_builders(env),
            ("bootstrap", lambda env=env: bootstrap.build(env)),
        ]
        for _, builder in builders:
            data = builder().to_dict()
            assert jsontext.dumps(data) == standard(data)
