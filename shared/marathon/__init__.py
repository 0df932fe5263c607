"""Marathon: the HTTP client (the only code that talks to Marathon), its typed errors and typed results."""
from .client import MarathonClient, MarathonEventStream
from .definition import canonical_app_id, definition_from_model
from .errors import (
    MarathonConflict,
    MarathonError,
    MarathonNotFound,
    MarathonRejected,
    MarathonUnauthorized,
    MarathonUnavailable,
)
from .types import (
    DeploymentAction,
    DeploymentResult,
    MarathonAppInfo,
    MarathonDeployment,
    MarathonEvent,
    MarathonInfo,
    MarathonTask,
)

__all__ = [
    "DeploymentAction",
    "DeploymentResult",
    "MarathonAppInfo",
    "MarathonClient",
    "MarathonConflict",
    "MarathonDeployment",
    "MarathonError",
    "MarathonEvent",
    "MarathonEventStream",
    "MarathonInfo",
    "MarathonNotFound",
    "MarathonRejected",
    "MarathonTask",
    "MarathonUnauthorized",
    "MarathonUnavailable",
    "canonical_app_id",
    "definition_from_model",
]
