"""KYC over the API: the player's own state and submission, and compliance's queue and decisions
(API.md "Responsible gambling, KYC" and "Compliance"). Thin: risk/kyc.py decides and writes."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from core.api import RawValue, errors, permission
from core.hygiene import StorableJSONParser, StorableMultiPartParser
from risk.kyc import (
    DOCUMENT_STATUSES,
    KYC_DECISIONS,
    KYC_READ,
    KYC_REVIEW,
    kyc_document_open,
    kyc_documents,
    kyc_state_of,
    kyc_submit,
    number_masked,
)
from risk.models import KycDocument, KycStatus


class KycDocumentSerializer(serializers.ModelSerializer):
    """A submission as its player sees it: the number masked (why it was rejected is the state's reason)."""

    document_number = serializers.SerializerMethodField(help_text="Masked: only the last characters show.")
    has_file = serializers.SerializerMethodField()

    class Meta:
        model = KycDocument
        fields = ["id", "document_type", "document_number", "has_file", "status", "submitted_at", "reviewed_at"]

    def get_document_number(self, document: KycDocument) -> str:
        return number_masked(document.document_number)

    def get_has_file(self, document: KycDocument) -> bool:
        return bool(document.file)


class KycSubmissionSerializer(KycDocumentSerializer):
    """A submission in compliance's queue, the number still masked, with the reviewer's reason."""

    user_id = serializers.IntegerField(source="player_id")
    username = serializers.CharField(source="player.username")

    class Meta(KycDocumentSerializer.Meta):
        fields = ["id", "user_id", "username", *KycDocumentSerializer.Meta.fields[1:], "reason"]


class KycSubmissionFullSerializer(KycSubmissionSerializer):
    """A submission opened by a reviewer: the number in full."""

    document_number = serializers.CharField()
    reviewed_by = serializers.CharField(source="reviewed_by.username", allow_null=True)

    class Meta(KycSubmissionSerializer.Meta):
        fields = [*KycSubmissionSerializer.Meta.fields, "file_size", "file_content_type", "reviewed_by"]


class KycStateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=KycStatus.choices)
    reason = serializers.CharField(help_text="Why the last document was rejected; empty otherwise.")
    document = KycDocumentSerializer(allow_null=True, help_text="The latest submission, if any.")


class KycSubmitSerializer(serializers.Serializer):
    # Passed to the service as sent, so it refuses a wrong value with its own code.
    document_type = RawValue(help_text="passport, id_card or driving_licence")
    document_number = RawValue(help_text="4 to 64 letters, digits, spaces or hyphens")


class KycUploadSerializer(KycSubmitSerializer):
    # An empty file too goes to the service, which refuses it as it refuses any file that is no scan.
    file = serializers.FileField(required=False, allow_empty_file=True,
                                 help_text="A PDF, PNG or JPEG scan, at most KYC_UPLOAD_MAX_BYTES.")


class MeKycApi(APIView):
    """The caller's identity check: GET its state; POST a document (JSON, or a multipart form with a scan)."""

    parser_classes = [StorableJSONParser, StorableMultiPartParser]

    @extend_schema(responses={200: KycStateSerializer, **errors()})
    def get(self, request):
        return Response(KycStateSerializer(kyc_state_of(player=request.user)).data)

    @extend_schema(
        request={"application/json": KycSubmitSerializer, "multipart/form-data": KycUploadSerializer},
        responses={201: KycStateSerializer, **errors(
            r400="invalid_request, invalid_document_type, invalid_document_number, invalid_file_type, file_too_large",
            r403="not_a_player", r409="kyc_pending, kyc_already_verified")})
    def post(self, request):
        data = KycUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sent = data.validated_data
        kyc_submit(player=request.user, document_type=sent["document_type"], document_number=sent["document_number"],
                   upload=sent.get("file"), actor=Actor.from_request(request))
        return Response(KycStateSerializer(kyc_state_of(player=request.user)).data, status=status.HTTP_201_CREATED)


class KycSubmissionListApi(ListAPIView):
    """Submissions, oldest first, numbers masked (compliance, regulators, admins)."""

    permission_classes = [permission(KYC_READ)]
    serializer_class = KycSubmissionSerializer

    def get_queryset(self):
        return kyc_documents(status=self.request.query_params.get("status"), viewer=self.request.user)

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=DOCUMENT_STATUSES)],
                   responses={200: KycSubmissionSerializer(many=True),
                              **errors(r400="invalid_request", r403="forbidden")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class KycSubmissionDetailApi(APIView):
    """One submission with its number in full, for reviewers (compliance, admins); each opening is audited."""

    permission_classes = [permission(KYC_REVIEW)]

    @extend_schema(responses={200: KycSubmissionFullSerializer, **errors(r403="forbidden", r404="not_found")})
    def get(self, request, pk: int):
        document = kyc_document_open(document_id=pk, actor=Actor.from_request(request))
        return Response(KycSubmissionFullSerializer(document).data)


class KycDecisionApi(APIView):
    """verify / reject: the player's submission waiting for review, decided (one view, the decision in the URL)."""

    permission_classes = [permission(KYC_REVIEW)]
    decision = ""

    class KycReasonSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True,
                                       help_text="Required to reject, and the player reads it; to verify, a "
                                                 "note for staff.")

    @extend_schema(request=KycReasonSerializer, responses={200: KycSubmissionSerializer, **errors(
        r400="invalid_request, reason_required (reject)", r403="forbidden", r404="kyc_not_submitted",
        r409="kyc_not_pending")})
    def post(self, request, user_id: int):
        data = self.KycReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = KYC_DECISIONS[self.decision](player_id=user_id, reason=data.validated_data["reason"],
                                                 actor=Actor.from_request(request))
        return Response(KycSubmissionSerializer(document).data)
