"""Serializers of image metadata requests: look an image up, import it as an app."""
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string and nothing else (DRF's CharField would turn 12.5 into "12.5")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ImageLookupRequestSerializer(serializers.Serializer):
    image = StrictCharField(max_length=512, trim_whitespace=False,
                            help_text="An image reference: nginx:1.27, registry.example.com:5000/team/app@sha256:...")


class AppImportRequestSerializer(ImageLookupRequestSerializer):
    name = StrictCharField(required=False, allow_null=True, max_length=50, trim_whitespace=False,
                           help_text="The app's name; by default the image's title label or repository name.")
