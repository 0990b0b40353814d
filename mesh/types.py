"""Column types for pandera models of products, beyond what pandera spells directly.

``Date`` is a calendar date stored as Parquet DATE (Arrow date32), so that ``order_date`` reads as
a date in every port rather than as a midnight timestamp::

    from mesh.types import Date
    order_date: Series[Date] = pa.Field(description="...")
"""

from typing import Annotated

import pandas as pd
import pyarrow

Date = Annotated[pd.ArrowDtype, pyarrow.date32()]

__all__ = ["Date"]
