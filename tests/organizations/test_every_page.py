"""A new member's walk: every staff role of the demo clinic follows the links its pages show, from its home page,
and every page answers (no server error, no broken link), with DEBUG off as in production."""

from __future__ import annotations

import io
import json
import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from tests.conftest import logged_in, truncate_all

# Links that end the session or leave the site's pages for a file, and the API's browsable pages.
SKIPPED = ("/admin/logout/", "/api/", "/fhir/", "/static/", "/media/")
PAGES_PER_ROLE = 500


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _links(page: str, base: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    found = []
    for href in parser.hrefs:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path.startswith("/admin/"):
            continue
        if parts.path.startswith(SKIPPED):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


_ID = re.compile(r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+)(?=/)")


def _shape(url: str) -> str:
    """One visit per kind of page: the same page of another row, or a list with other filter values, is not a new
    kind (ids in the path and the parameters do not count, beyond having some)."""
    parts = urlsplit(url)
    names = parse_qsl(parts.query, keep_blank_values=True)
    return _ID.sub("/<id>", parts.path) + ("?" if names else "")


def walk(client: Client, start: str) -> tuple[list[tuple[str, int]], int]:
    """Follow the links of every page reached from `start` (GET only, one page of each kind, at most
    PAGES_PER_ROLE): the pages that did not answer 200 or a redirect, and the number of pages seen."""
    queue, seen, broken, visited = deque([start]), {_shape(start)}, [], 0
    while queue and visited < PAGES_PER_ROLE:
        url = queue.popleft()
        response = client.get(url)
        visited += 1
        if response.status_code in (301, 302):
            target = urljoin(url, response["Location"])
            if urlsplit(target).path.startswith("/admin/") and _shape(target) not in seen:
                seen.add(_shape(target))
                queue.append(target)
            continue
        if response.status_code != 200:
            broken.append((url, response.status_code))
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for link in _links(response.content.decode(), url):
            if _shape(link) not in seen:
                seen.add(_shape(link))
                queue.append(link)
    return broken, visited


@pytest.fixture(scope="module")
def demo_staff(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("seed_demo", "--json", stdout=out)
        organizations = {org["slug"]: org for org in json.loads(out.getvalue())["organizations"]}
        users = {user["role"]: user["username"] for user in organizations["harbor"]["users"]}
        yield {role: get_user_model().objects.get(username=username) for role, username in users.items()}
        truncate_all()


@pytest.mark.parametrize("role", ["owner", "front_desk", "clinician", "coach", "billing"])
def test_every_link_a_role_is_shown_leads_to_a_page(demo_staff, role, settings, django_db_blocker):
    settings.DEBUG = False
    with django_db_blocker.unblock():
        client = logged_in(demo_staff[role])
        client.raise_request_exception = False
        broken, visited = walk(client, "/admin/")
    assert visited > 100
    assert broken == []
