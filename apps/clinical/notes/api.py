"""Clinical notes API: an encounter's notes, one note, signing, addenda. Every note shown is logged as a PHI
read (its output serializer marks it)."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.idempotency import idempotent_post
from apps.organizations.pagination import ListPagination

from .. import selectors as clinical_selectors
from ..permissions import CLINICAL_NOTE
from . import selectors, services
from .serializers import AddendumInput, NoteInput, NoteOutput


def _note(note_id: uuid.UUID) -> NoteOutput:
    return NoteOutput(object_or_404(selectors.clinical_note_list(), note_id))


class EncounterNoteListApi(APIView):
    pagination_class = ListPagination
    resource = CLINICAL_NOTE

    @extend_schema(responses=NoteOutput(many=True), summary="The notes of an encounter, newest first")
    def get(self, request: Request, encounter_id: uuid.UUID) -> Response:
        encounter = object_or_404(clinical_selectors.encounter_list(), encounter_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.encounter_notes(encounter), request, view=self) or []
        return paginator.get_paginated_response(NoteOutput(page, many=True).data)

    @extend_schema(request=NoteInput, responses={201: NoteOutput}, summary="Write a draft note for an encounter")
    @idempotent_post
    def post(self, request: Request, encounter_id: uuid.UUID) -> Response:
        encounter = object_or_404(clinical_selectors.encounter_list(), encounter_id)
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.clinical_note_create(
            author=request.user,  # type: ignore[arg-type]  # the map admits staff users only
            patient=encounter.patient,
            encounter=encounter,
            **data.validated_data,
        )
        return Response(_note(note.pk).data, status=status.HTTP_201_CREATED)


class NoteDetailApi(APIView):
    resource = CLINICAL_NOTE

    @extend_schema(responses=NoteOutput, summary="A note with its addenda")
    def get(self, request: Request, note_id: uuid.UUID) -> Response:
        return Response(_note(note_id).data)


class NoteSignApi(APIView):
    resource = CLINICAL_NOTE
    resource_actions = {"POST": "sign"}

    @extend_schema(request=None, responses=NoteOutput, summary="Sign a draft note (its author only); it is then locked")
    def post(self, request: Request, note_id: uuid.UUID) -> Response:
        note = object_or_404(selectors.clinical_note_list(), note_id)
        services.clinical_note_sign(note=note, signer=request.user)  # type: ignore[arg-type]
        return Response(_note(note_id).data)


class NoteAddendumApi(APIView):
    resource = CLINICAL_NOTE
    resource_actions = {"POST": "amend"}

    @extend_schema(
        request=AddendumInput, responses={201: NoteOutput}, summary="Add an addendum to a signed note (both stay)"
    )
    @idempotent_post
    def post(self, request: Request, note_id: uuid.UUID) -> Response:
        note = object_or_404(selectors.clinical_note_list(), note_id)
        data = AddendumInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.note_addendum_create(note=note, author=request.user, text=data.validated_data["text"])  # type: ignore[arg-type]
        return Response(_note(note_id).data, status=status.HTTP_201_CREATED)
