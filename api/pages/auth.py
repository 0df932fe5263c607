"""Sign-in and sign-out pages: Django's own views with the catalog's templates."""
from django.contrib.auth import views as auth_views

login = auth_views.LoginView.as_view(template_name="catalog/login.html", redirect_authenticated_user=True,
                                     next_page="catalog:index")
logout = auth_views.LogoutView.as_view(next_page="catalog:index")
