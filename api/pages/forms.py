"""HTML forms of the pages: they parse what a browser sends; the catalog and job services judge the values."""
from django import forms

from shared import catalog_rules as rules
from shared.catalog_rules import INSTANCES_MAX
from shared.errors import DomainError

PAGE_SIZES = (12, 24, 48, 96)


class CatalogFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "name or description"}))
    image = forms.CharField(label="Image", required=False, max_length=512,
                            widget=forms.TextInput(attrs={"placeholder": "e.g. nginx"}))
    deployed = forms.ChoiceField(label="Deployment", required=False,
                                 choices=(("", "All apps"), ("live", "Deployed"), ("idle", "Not deployed")))
    per_page = forms.TypedChoiceField(label="Per page", required=False, coerce=int, empty_value=PAGE_SIZES[0],
                                      choices=[(size, str(size)) for size in PAGE_SIZES])


class PortsField(forms.CharField):
    """Port numbers separated by commas or spaces ("80, 443"); range rules are the catalog's."""

    def to_python(self, value):
        text = super().to_python(value)
        ports = []
        for item in text.replace(",", " ").split():
            if not item.isdigit():
                raise forms.ValidationError(f"{item!r} is not a port number; give numbers separated by commas.")
            ports.append(int(item))
        return ports

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(str(port) for port in value)
        return value


class AppEditForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100,
                           help_text="Lower-case letters, digits and '-'; it becomes part of the app's address.")
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    image = forms.CharField(label="Docker image", required=False, max_length=600,
                            help_text="For example nginx:1.27 or ghcr.io/org/app:2.0.")
    ports = PortsField(label="Ports", required=False, help_text="Container ports, separated by commas.")
    command = forms.CharField(label="Command", required=False, help_text="Leave empty to use the image's own.")
    vcs_url = forms.CharField(label="Repository URL", required=False, max_length=2100)

    # Where the catalog services' field paths land on this form.
    SERVICE_FIELDS = {"docker_container.image": "image", "docker_container.ports": "ports",
                      "docker_container": "image"}

    # The catalog's own rules, so that every field's error shows at once; the service still judges the whole.
    def _rule(self, field, rule):
        value = self.cleaned_data[field]
        if value in ("", []):
            return value
        try:
            return rule(value)
        except rules.RuleError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_name(self):
        return self._rule("name", rules.clean_name)

    def clean_image(self):
        return self._rule("image", rules.clean_image)

    def clean_ports(self):
        return self._rule("ports", rules.clean_ports)

    def clean_vcs_url(self):
        return self._rule("vcs_url", rules.clean_vcs_url)

    @classmethod
    def initial_for(cls, app):
        container = getattr(app, "docker_container", None)
        return {"name": app.name, "description": app.description, "command": app.command, "vcs_url": app.vcs_url,
                "image": container.image if container else "", "ports": container.ports if container else []}

    def service_data(self, app):
        """The partial update the catalog service expects, from the cleaned form."""
        data = {key: self.cleaned_data[key] for key in ("name", "description", "command", "vcs_url")}
        image, ports = self.cleaned_data["image"], self.cleaned_data["ports"]
        if image or getattr(app, "docker_container", None) is not None:
            data["docker_container"] = {"image": image, "ports": ports}
        return data


class ScaleForm(forms.Form):
    instances = forms.IntegerField(label="Instances", min_value=0, max_value=INSTANCES_MAX)


class ImportForm(forms.Form):
    image = forms.CharField(label="Docker image", max_length=600,
                            help_text="A reference such as nginx:1.27 or ghcr.io/org/app:2.0; its labels "
                                      "fill in the catalog entry.")
    name = forms.CharField(label="Name (optional)", required=False, max_length=100,
                           help_text="Leave empty to take the image's title or repository name.")

    def clean_image(self):
        try:
            return rules.clean_image(self.cleaned_data["image"])
        except rules.RuleError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_name(self):
        name = self.cleaned_data["name"]
        try:
            return rules.clean_name(name) if name else name
        except rules.RuleError as exc:
            raise forms.ValidationError(str(exc)) from None


def add_service_errors(form, error: DomainError, mapping=None):
    """Put a service's field errors next to the matching form fields; the rest above the form."""
    mapping = mapping or {}
    placed = False
    for path, messages in (error.errors or {}).items():
        field = mapping.get(path, path)
        for message in messages if isinstance(messages, (list, tuple)) else [messages]:
            if field in form.fields:
                form.add_error(field, str(message))
            else:
                form.add_error(None, f"{path}: {message}")
            placed = True
    if not placed:
        form.add_error(None, error.message)


class TokenForm(forms.Form):
    name = forms.CharField(label="Name", required=False, max_length=100,
                           help_text="What the token is for, e.g. 'CI pipeline'.")
    expires_days = forms.IntegerField(label="Expires after (days)", required=False, min_value=0, max_value=3650,
                                      help_text="Leave empty for the default; 0 means it never expires.")
