"""Pre-aggregated counts, as a CloudWatch ``Count`` metric export looks: one CSV row per route,
region and step (``timestamp,api,api_type,stage,route,region,requests,bytes_out``, ISO UTC).
Like CloudWatch, a period with no requests has no row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import text
from .base import SampleWriter, register

HEADER = "timestamp,api,api_type,stage,route,region,requests,bytes_out\n"


def counts_lines(counts: pd.DataFrame) -> pa.Array:
    """CSV lines (no header) of the rows with requests > 0."""
    c = counts[counts["requests"].to_numpy() > 0]
    secs = c["ts"].to_numpy().astype("datetime64[s]").astype(np.int64)
    cols = [pa.array(c[k].to_numpy(dtype=object), pa.string()) for k in ("api", "api_type", "stage", "route", "region")]
    return text.join(text.strftime_seconds(secs, "%Y-%m-%dT%H:%M:%SZ"), ",", cols[0], ",", cols[1], ",", cols[2], ",",
                     cols[3], ",", cols[4], ",", text.ints(c["requests"].to_numpy()), ",",
                     text.ints(c["bytes_out"].to_numpy()), "\n")


register(SampleWriter("counts", "counts.csv", "per-route request counts CSV (CloudWatch Count export shape)",
                      aggregated=True))
