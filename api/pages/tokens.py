"""The API tokens page: a signed-in user lists, creates (the key is shown once) and revokes their own tokens."""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from api.pages.forms import TokenForm, add_service_errors
from api.pages.permissions import change_required
from shared.errors import DomainError, NotFound
from shared.services.tokens import token_create, token_list, token_revoke


@change_required
@require_http_methods(["GET", "POST"])
def token_index(request):
    form = TokenForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _, new_key = token_create(request.user, name=form.cleaned_data["name"],
                                          expires_days=form.cleaned_data["expires_days"])
            except DomainError as exc:
                add_service_errors(form, exc)
            else:
                form = TokenForm()
        if form.is_bound:
            status = 400
    response = render(request, "catalog/tokens.html", {
        "form": form, "tokens": list(token_list(request.user)), "new_key": new_key,
    }, status=status)
    response["Cache-Control"] = "no-store"  # the new key must not stay in any cache
    return response


@change_required
@require_POST
def token_delete(request, prefix):
    try:
        token_revoke(request.user, prefix)
    except NotFound:
        messages.error(request, f"You have no token {prefix}.")
    else:
        messages.success(request, f"Token {prefix} is revoked.")
    return redirect(reverse("catalog:tokens"))
