from django.contrib.auth import views as auth_views
from django.urls import path

from termin360.practice import views

app_name = "practice"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="practice/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
]
