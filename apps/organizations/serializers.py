from rest_framework import serializers


class OrganizationSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class MembershipSummarySerializer(serializers.Serializer):
    organization = OrganizationSummarySerializer()
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["staff", "partner"])
    organization = OrganizationSummarySerializer(allow_null=True)
    role = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())
    phi_access = serializers.BooleanField()
    memberships = MembershipSummarySerializer(many=True)


class OrganizationSwitchSerializer(serializers.Serializer):
    organization = serializers.CharField(max_length=50, help_text="The organization's slug.")
