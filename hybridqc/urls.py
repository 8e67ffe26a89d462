from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard.views import home
from reviewers.forms import ResetOrInviteForm

from .auth import ThrottledPasswordResetView

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail, also how an invited reviewer sets a first password (rate-limited).
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(form_class=ResetOrInviteForm),
         name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/tokens/", include("dashboard.token_urls")),
    path("admin/", admin.site.urls),
    path("review/", include("reviewers.urls")),
    path("control/", include("dashboard.urls")),
    path("routing/", include("routing.urls")),
    path("api/", include("hybridqc.api_urls")),
    # Browsers ask for /favicon.ico whatever the page declares; a permanent redirect to the static icon.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True), name="favicon"),
]
