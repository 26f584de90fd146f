"""One dashboard for the programme: migrations side by side on the overview, and every page
filtered by `?migration=<slug>` among the migrations the user may view."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from console.dashboard import selectors
from console.models import Migration, MigrationRole
from console.roles import VIEWERS
from verifiers.models import LedgerSource, MismatchGroup, ReconciliationRun
from verifiers.tests.outcome_support import add_outcome_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def deposits():
    return Migration.objects.create(slug="won-deposits", name="Won deposits")


@pytest.fixture
def fx():
    return Migration.objects.create(slug="fx-deposits", name="FX deposits")


@pytest.fixture
def viewer(client, user_with_role):
    client.force_login(user_with_role(VIEWERS, "viewer"))
    return client


def outcomes(migration, kind, subject, matched, mismatched, minutes_ago=5):
    minute = (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    add_outcome_counts(migration=migration, kind=kind, subject=subject, minute=minute, matched=matched,
                                mismatched=mismatched)


def group(migration, title, *, kind="read", severity="high", status="open"):
    now = timezone.now()
    return MismatchGroup.objects.create(migration=migration, kind=kind, fingerprint=title, title=title,
                                        subject="GET /a" if kind == "read" else "accounts", severity=severity,
                                        status=status, first_seen=now, last_seen=now, count=1)


def reconciliation(migration, source_name, status, differences=0, days_ago=0):
    source, _ = LedgerSource.objects.get_or_create(
        migration=migration, name=source_name,
        defaults=dict(dsn="postgresql://postgres@127.0.0.1/x", accounts_table="a", account_key="id",
                      balance_column="b", currency_column="c", entries_table="e", entry_account_column="a",
                      entry_amount_column="m", entry_time_column="t"))
    return ReconciliationRun.objects.create(source=source, cutoff=timezone.now() - timedelta(days=days_ago),
                                            status=status, accounts_with_differences=differences)


@pytest.fixture
def two_migrations(deposits, fx):
    outcomes(deposits, "read", "GET /a", 999, 1)  # last hour
    outcomes(deposits, "read", "GET /a", 0, 1000, minutes_ago=60 * 5)  # earlier today only
    outcomes(fx, "read", "GET /a", 500, 0)
    outcomes(fx, "write", "accounts", 90, 10, minutes_ago=60 * 3)
    outcomes(fx, "write", "accounts", 1, 1, minutes_ago=60 * 30)  # older than the trend
    group(deposits, "deposits read group", severity="critical")
    group(deposits, "deposits write group", kind="write", severity="low")
    group(deposits, "deposits resolved group", status="resolved")
    group(fx, "fx read group", severity="medium")
    reconciliation(deposits, "deposits ledger", "balanced", days_ago=1)
    reconciliation(deposits, "deposits ledger", "discrepancies", differences=3)
    reconciliation(fx, "fx ledger", "failed")
    return deposits, fx


def test_programme_table_holds_each_migrations_own_figures(two_migrations):
    deposits, fx = two_migrations
    rows = {row["migration"].slug: row for row in selectors.programme_table([deposits, fx])}
    won, foreign = rows["won-deposits"], rows["fx-deposits"]
    assert won["read"]["hour"]["text"] == "99.90 %" and won["read"]["day"]["text"] == "49.95 %"
    assert foreign["read"]["hour"]["text"] == "100.00 %" and foreign["read"]["day"]["text"] == "100.00 %"
    assert won["write"]["day"]["text"] == "–" and foreign["write"]["day"]["text"] == "90.00 %"
    assert foreign["write"]["hour"]["text"] == "–"
    assert dict(won["groups"]) == {"critical": 1, "high": 0, "medium": 0, "low": 1} and won["open_groups"] == 2
    assert dict(foreign["groups"])["medium"] == 1 and foreign["open_groups"] == 1
    assert won["last_run"]["run"].status == "discrepancies" and foreign["last_run"]["run"].status == "failed"
    assert won["urls"]["read"] == "/read/?migration=won-deposits"
    assert len(won["read"]["trend"]) == 2  # two hours with comparisons, hours between them empty


def test_programme_table_queries_do_not_grow_with_the_number_of_migrations(two_migrations,
                                                                           django_assert_num_queries):
    migrations = [*two_migrations, *(Migration.objects.create(slug=f"m{i}", name=f"M {i}") for i in range(5))]
    with django_assert_num_queries(4):  # finished hours, recent minutes, groups, last runs
        first = selectors.programme_table(migrations)
    with django_assert_num_queries(3):  # the finished hours come from the cache
        again = selectors.programme_table(migrations)
    assert [row["read"]["day"] for row in first] == [row["read"]["day"] for row in again]


def test_overview_shows_both_migrations_side_by_side(viewer, two_migrations):
    html = viewer.get("/").content.decode()
    assert 'data-migration="fx-deposits"' in html and 'data-migration="won-deposits"' in html
    assert html.index('data-migration="fx-deposits"') < html.index('data-migration="won-deposits"')  # by name
    assert "99.90 %" in html and "49.95 %" in html and "90.00 %" in html
    assert 'href="/groups/?migration=won-deposits"' in html
    assert "3 differences" in html and "<polyline" in html


def test_programme_partial_refreshes_the_table(viewer, two_migrations):
    assert 'data-refresh-url="/overview/partials/programme/?hours=6"' in viewer.get("/").content.decode()
    partial = viewer.get("/overview/partials/programme/?hours=6").content.decode()
    assert 'data-migration="fx-deposits"' in partial and "<html" not in partial


def test_overview_filtered_to_one_migration(viewer, two_migrations):
    html = viewer.get("/?migration=fx-deposits").content.decode()
    assert "Overview: FX deposits" in html
    assert "fx read group" in html and "deposits read group" not in html
    assert 'data-migration="won-deposits"' not in html
    assert "/overview/partials/groups/?hours=6&amp;migration=fx-deposits" in html
    partial = viewer.get("/overview/partials/groups/?migration=won-deposits").content.decode()
    assert "deposits read group" in partial and "fx read group" not in partial


def test_a_console_with_one_migration_has_no_programme_table_or_picker(viewer, deposits):
    html = viewer.get("/").content.decode()
    assert 'id="programme"' not in html and 'id="migration-picker"' not in html


@pytest.mark.parametrize(("url", "mine", "theirs"), [
    ("/read/", "deposits read group", "fx read group"),
    ("/write/", "deposits write group", "fx write group"),
    ("/groups/", "deposits read group", "fx read group"),
    ("/reconciliation/", "deposits ledger", "fx ledger"),
])
def test_each_page_filters_by_migration(viewer, two_migrations, url, mine, theirs):
    group(two_migrations[1], "fx write group", kind="write")
    everything = viewer.get(url).content.decode()
    assert mine in everything and theirs in everything
    only = viewer.get(url + "?migration=won-deposits")
    assert only.status_code == 200
    html = only.content.decode()
    assert mine in html and theirs not in html
    assert '<option value="won-deposits" selected>' in html  # the picker shows the choice
    assert 'href="/write/?migration=won-deposits"' in html  # and the navigation keeps it


def test_group_api_filters_by_migration(viewer, two_migrations):
    titles = [g["title"] for g in viewer.get("/api/v1/mismatch-groups?migration=fx-deposits").json()["results"]]
    assert titles == ["fx read group"]
    assert viewer.get("/api/v1/mismatch-groups").json()["count"] == 4


@pytest.mark.parametrize("url", ["/", "/read/", "/write/", "/groups/", "/reconciliation/",
                                 "/overview/partials/rates/"])
def test_an_unknown_migration_is_refused_naming_it(viewer, two_migrations, url):
    response = viewer.get(url + "?migration=no-such")
    assert response.status_code == 400
    assert "no migration &#x27;no-such&#x27; that you may view" in response.content.decode()


def test_the_api_refuses_an_unknown_migration_in_json(viewer, two_migrations):
    response = viewer.get("/api/v1/mismatch-groups?migration=no-such")
    assert response.status_code == 400
    assert "no migration 'no-such' that you may view" in response.json()["migration"][0]


def test_a_migration_the_user_may_not_view_is_refused_like_an_unknown_one(client, two_migrations):
    deposits, _ = two_migrations
    user = get_user_model().objects.create_user("deposits-viewer", password="pw-123456789")
    MigrationRole.objects.create(user=user, migration=deposits, role=MigrationRole.Role.VIEWER)
    client.force_login(user)
    hidden = client.get("/groups/?migration=fx-deposits")
    unknown = client.get("/groups/?migration=no-such")
    assert hidden.status_code == unknown.status_code == 400

    def page(response) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())

    assert page(hidden).replace("fx-deposits", "no-such") == page(unknown)
    assert client.get("/api/v1/mismatch-groups?migration=fx-deposits").status_code == 400
    html = client.get("/groups/").content.decode()
    assert "deposits read group" in html and "fx read group" not in html
    assert 'id="migration-picker"' not in html  # one migration to see: nothing to pick
    assert client.get("/api/v1/mismatch-groups").json()["count"] == 3  # deposits: two open, one resolved
