"""Admin registrations of the routing app, split by topic.

admin_judge: judge configurations (versioned) and judge runs. The lead may import more modules
here (e.g. admin_core for batches, examples and domains).
"""

from django.contrib import admin

from routing.decisions import (
    admin as admin_core,  # noqa: F401
)
from routing.judging import (
    admin as admin_judge,  # noqa: F401
)

# The site's branding lives with the first admin module loaded (autodiscover imports it).
admin.site.site_header = "HybridQC administration"
admin.site.site_title = "HybridQC admin"
admin.site.index_title = "Reviewers, batches and judges"
