"""Admin registrations of the routing app, split by topic.

admin_judge: judge configurations (versioned) and judge runs. The lead may import more modules
here (e.g. admin_core for batches, examples and domains).
"""

from routing import (
    admin_core,  # noqa: F401
    admin_judge,  # noqa: F401
)
