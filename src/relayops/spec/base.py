"""Shared pydantic base and field types of the spec model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

SNAKE = r"^[a-z][a-z0-9_]*$"

SnakeName = Annotated[str, StringConstraints(pattern=SNAKE)]
LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]
MetricName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]
CamelName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")]
Sentence = Annotated[str, StringConstraints(min_length=3, pattern=r"^[A-Z].*\.$")]


class SpecModel(BaseModel):
    """Every spec object refuses unknown keys and is immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def camel(snake: str) -> str:
    """mime_build -> MimeBuild."""
    return "".join(part.capitalize() for part in snake.split("_"))
