"""Page URLs of the portal; each area keeps its own URL list."""

from django.urls import include, path

from termin360.portal.views import url_accounts, url_patients, url_practice

app_name = "portal"

urlpatterns = [
    path("", include(url_patients.urlpatterns)),
    path("konto/", include(url_accounts.urlpatterns)),
    path("praxis/", include(url_practice.urlpatterns)),
]
