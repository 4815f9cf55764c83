"""The model catalogue: every entry is complete and sourced, and ids find their entry."""

from __future__ import annotations

import json
import re

import pytest

from chat_core.catalogue import (
    CATALOGUE_FILE,
    find_model,
    is_endpoint,
    model_info,
    models,
    parse_price,
)
from chat_core.config import REASONING_EFFORTS

DOCUMENT = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.mark.parametrize("entry", DOCUMENT["models"], ids=lambda entry: entry["id"])
def test_every_price_names_its_source_and_date(entry):
    price = entry["price"]
    assert DATE.fullmatch(price["date"])
    assert price["source"].split(" ")[0].rstrip(";") in DOCUMENT["sources"]
    assert price["status"] in ("verified", "mirror", "unverified")
    assert price["tiers"]


@pytest.mark.parametrize("entry", DOCUMENT["models"], ids=lambda entry: entry["id"])
def test_every_entry_says_what_the_model_can_do(entry):
    assert entry["name"] and isinstance(entry["images"], bool)
    assert entry["thinking"]
    assert entry["reasoning_efforts"] is None or set(entry["reasoning_efforts"]) <= set(
        REASONING_EFFORTS
    )


def test_ids_are_unique_per_model():
    families = [model.family for model in models()]
    assert len(families) == len(set(families))


def test_the_current_flagships_are_listed():
    for model_id in (
        "doubao-seed-1-8-251228",
        "doubao-seed-2-0-pro-260215",
        "doubao-seed-2-0-lite-260428",
        "doubao-seed-2-0-mini-260428",
        "doubao-seed-2-1-pro-260628",
        "doubao-seed-2-1-turbo-260628",
        "deepseek-v4-pro-ga-260813",
        "glm-5-2-260617",
    ):
        assert find_model(model_id).id == model_id


@pytest.mark.parametrize(
    ("model_id", "entry"),
    [
        ("doubao-seed-2-0-lite-260215", "doubao-seed-2-0-lite-260428"),  # an older version
        ("doubao-seed-1-6-250615", "doubao-seed-1-6-251015"),
        ("doubao-seed-1-6", "doubao-seed-1-6-251015"),  # no version at all
        ("doubao-seed-1-6-flash-250828", "doubao-seed-1-6-flash-250828"),
    ],
)
def test_other_versions_of_a_model_find_its_entry(model_id, entry):
    assert find_model(model_id).id == entry


@pytest.mark.parametrize(
    "model_id", ["deepseek-v3-1-250821", "doubao-seed-1-6x", "ep-20250120174411-9h98m", "", None, 7]
)
def test_unknown_ids_and_endpoints_are_not_in_the_catalogue(model_id):
    assert find_model(model_id) is None


def test_an_endpoint_takes_the_abilities_of_the_model_it_serves():
    endpoint = "ep-20250120174411-9h98m"
    assert is_endpoint(endpoint) and not is_endpoint("doubao-seed-1-8-251228")
    assert model_info(endpoint) is None
    assert model_info(endpoint, "doubao-seed-2-1-pro-260628").name == "Doubao Seed 2.1 Pro"
    # A catalogue model is itself, whatever alias a chat kept from an earlier endpoint.
    assert model_info("glm-5-2-260617", "doubao-seed-2-1-pro-260628").images is False


def test_text_only_models_and_models_without_reasoning_effort_say_so():
    assert find_model("glm-5-2-260617").images is False
    assert find_model("doubao-seed-2-1-pro-260628").images is True
    assert find_model("doubao-seed-1-6-flash-250828").takes_reasoning_effort is False
    seed = find_model("doubao-seed-2-1-pro-260628")
    assert seed.effort_levels == ("minimal", "low", "medium", "high")
    # Levels the sources do not list: every level the app knows is offered.
    assert find_model("deepseek-v4-pro-ga-260813").effort_levels == REASONING_EFFORTS


@pytest.mark.parametrize(
    "entry",
    [
        {"tiers": []},
        {"tiers": [{"input_up_to": None, "input": 1, "output": 2}, {"input_up_to": 5}]},
        {"tiers": [{"input_up_to": 9, "input": 1, "output": 1}, {"input_up_to": 5, "input": 1}]},
        {"input": -1, "output": 1},
        {"input": "NaN", "output": 1},
        {"input": True, "output": 1},
        {"input": 1, "output": 1, "status": "guessed"},
        [1, 2],
    ],
)
def test_malformed_prices_are_refused(entry):
    with pytest.raises((ValueError, TypeError, KeyError)):
        parse_price(entry)
