"""The simulated model's tool arguments fit the tool's schema (proxy/simulator/schema_example.py):
the schemas pydantic writes for the models instructor and llama-index send are validated back
by pydantic, as those clients do with the call they get."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import AnyUrl, BaseModel, Field, HttpUrl

from proxy.simulator.schema_example import example


class Size(Enum):
    SMALL = "small"
    LARGE = "large"


class District(BaseModel):
    name: str
    size: Size


class City(BaseModel):
    """Nested models: `$ref` into `$defs`."""

    name: Annotated[str, Field(min_length=12, max_length=40)]
    population: Annotated[int, Field(gt=1000, multiple_of=5)]
    area: Annotated[float, Field(ge=0.5, lt=2)]
    districts: Annotated[list[District], Field(min_length=2)]
    capital_of: District | None
    kind: Literal["city", "town"] = "city"


class Links(BaseModel):
    """Formats pydantic checks, and bounds on the short side."""

    home: HttpUrl
    any_url: AnyUrl
    founded: datetime.date
    updated: datetime.datetime
    id: uuid.UUID
    code: Annotated[str, Field(max_length=3)]
    rating: Annotated[int, Field(le=-2)]
    tags: Annotated[list[str], Field(max_length=0)]


class Node(BaseModel):
    """A tree: the schema refers to itself."""

    label: str
    children: list[Node]
    parent: Node | None


@pytest.mark.parametrize("model", [City, District, Links, Node])
def test_the_arguments_validate_against_the_model_that_wrote_the_schema(
    model: type[BaseModel],
) -> None:
    value = example(model.model_json_schema())
    model.model_validate(value)  # raises if any constraint is broken


def test_constraints_are_met_at_their_edges() -> None:
    city = City.model_validate(example(City.model_json_schema()))
    assert (len(city.name), city.population, city.area, len(city.districts)) == (12, 1005, 1, 2)
    assert city.districts[0].size is Size.SMALL
    links = Links.model_validate(example(Links.model_json_schema()))
    assert (links.code, links.rating, links.tags) == ("exa", -2, [])


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "array", "items": {"type": "integer"}}, [1]),
        ({"anyOf": [{"type": "number"}, {"type": "string"}]}, 1),
        ({"type": ["boolean", "null"]}, True),
        ({"properties": {"a": {"type": "null"}}}, {"a": None}),
        ({"type": "object"}, {}),
        (None, "example"),
        ({"type": "string", "format": "uri"}, "https://example.com/"),
        ({"const": "fixed", "type": "string"}, "fixed"),
        # pydantic 1 and some agent SDKs wrap a described reference in allOf.
        (
            {
                "properties": {"d": {"allOf": [{"$ref": "#/definitions/D"}], "description": "."}},
                "definitions": {"D": {"properties": {"n": {"type": "integer", "minimum": 3}}}},
            },
            {"d": {"n": 3}},
        ),
        ({"type": "number", "exclusiveMinimum": 1.5}, 2.5),
        ({"type": "integer", "exclusiveMaximum": 0}, -1),
        ({"$ref": "#/$defs/missing"}, "example"),
        ({"$ref": "http://elsewhere/schema"}, "example"),
        ({"$ref": "#"}, "example"),  # refers to itself and says nothing else
    ],
)
def test_schema_examples(schema: Any, value: Any) -> None:
    assert example(schema) == value
