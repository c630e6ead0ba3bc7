"""A handler that needs native wheels for arm64: pydantic-core and numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson  # from the shared layer
from pydantic import BaseModel


class Reading(BaseModel):
    sensor: str
    values: list[float]


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    reading = Reading.model_validate(event or {"sensor": "demo", "values": [1.0, 2.0, 4.0]})
    body = {"sensor": reading.sensor, "mean": float(np.mean(reading.values))}
    return {"statusCode": 200, "body": orjson.dumps(body).decode()}
