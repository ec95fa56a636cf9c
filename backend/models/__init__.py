"""PynamoDB models, one table each; every docstring states its key template."""
from backend.models.base import BaseModel, all_models, bind, new_id, transaction, utcnow  # noqa: F401
