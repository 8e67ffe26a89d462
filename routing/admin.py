"""Admin registrations of the routing app, one module per package: judge configurations
(versioned) and judge runs in ``routing.judging.admin``; batches, examples, domains, decisions and
routing runs in ``routing.decisions.admin``. Django's autodiscovery imports this module."""

from django.contrib import admin

from routing.decisions import admin as decisions_admin  # noqa: F401
from routing.judging import admin as judging_admin  # noqa: F401

# The site's branding lives with the first admin module loaded (autodiscover imports it).
admin.site.site_header = "HybridQC administration"
admin.site.site_title = "HybridQC admin"
admin.site.index_title = "Reviewers, batches and judges"
