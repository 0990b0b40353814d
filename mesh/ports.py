"""Public for product functions: ``to_pandas``, an Arrow table as a pandas frame with the dtypes product
schemas declare (dates stay dates).

The read ports themselves (Python and SQL, with access checks and masking) live in
``mesh.storage.ports``; this module is the stable name product code imports.
"""

from mesh.storage.ports import to_pandas

__all__ = ["to_pandas"]
