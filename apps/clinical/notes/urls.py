from django.urls import path

from . import api

urlpatterns = [
    path("encounters/<uuid:encounter_id>/notes/", api.EncounterNoteListApi.as_view(), name="encounter-note-list"),
    path("notes/<uuid:note_id>/", api.NoteDetailApi.as_view(), name="note-detail"),
    path("notes/<uuid:note_id>/sign/", api.NoteSignApi.as_view(), name="note-sign"),
    path("notes/<uuid:note_id>/addenda/", api.NoteAddendumApi.as_view(), name="note-addenda"),
]
