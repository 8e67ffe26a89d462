import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")
application = get_wsgi_application()
if not settings.SECRET_KEY_IS_SET:
    raise ImproperlyConfigured("SECRET_KEY must be set to serve HybridQC (only the demo has one)")
