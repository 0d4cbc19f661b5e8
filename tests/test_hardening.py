"""Smaller holes of issue 12 (item 8): one e-mail address, demo mode, the throttle's email key,
a failed report's reason, the replicas' gunicorn settings in the image.
"""

from __future__ import annotations

import json
import re

import pytest

from benchmarks.stack import ROOT
from shared import validation

# --- one address per specialist -------------------------------------------------------------

GOOD = ["name@example.com", "first.last+tag@sub.example.org", "émail@exemple.fr",
        "x@scaling-lab.test"]
BAD = ["x@evil.com,foo.bar", "x@evil.com, y@example.com", "x@evil.com;y@example.com",
       "Eve <x@evil.com>", '"a,b"@example.com', "x@evil.com\r\nBcc: y@example.com",
       "x@@example.com", "not-an-address", "x@localhost", "@example.com"]


@pytest.mark.parametrize("address", GOOD)
def test_one_address_is_accepted_as_given(address):
    clean = validation.specialist({"crm": "1", "name": "n", "specialty": "s", "email": address})
    assert clean["email"] == address


@pytest.mark.parametrize("address", BAD)
def test_anything_but_one_address_is_refused_naming_the_field(address):
    with pytest.raises(validation.ValidationError) as refused:
        validation.specialist({"crm": "1", "name": "n", "specialty": "s", "email": address})
    assert list(refused.value.errors) == ["email"]
    assert "name@example.com" in refused.value.errors["email"][0]  # says what is expected


# --- the image loads the replicas' gunicorn settings -----------------------------------------


def test_the_image_and_the_readme_name_the_real_gunicorn_settings():
    import stages
    from benchmarks.stack import Options
    from benchmarks.stack.processes import process_specs
    from benchmarks.tools.compose import compose_site

    topology = stages.topology("load-balanced")
    app = next(s for s in process_specs(topology, Options(), compose_site(topology))
               if s.group == "app")
    config = app.argv[app.argv.index("-c") + 1]
    assert config == "python:benchmarks.stack.gunicorn_conf"
    cmd = re.search(r"^CMD (\[.*?\])$", (ROOT / "Dockerfile").read_text().replace("\\\n", ""),
                    re.M | re.S)
    argv = json.loads(cmd.group(1))
    assert argv[argv.index("-c") + 1] == config, "the image's default command skips the settings"
    readme = (ROOT / "README.md").read_text()
    assert "gunicorn.conf.py" not in readme
    assert "benchmarks/stack/gunicorn_conf.py" in readme
    assert (ROOT / "benchmarks" / "stack" / "gunicorn_conf.py").exists()
