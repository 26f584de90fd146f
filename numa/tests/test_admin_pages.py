"""The NUMA admin (hosts with samples, pinning events) as an admin sees it, and the unknown-host page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from numa import ingest
from numa.models import Host, PinningEvent
from numa.tests.helpers import advanced, fixture_sample

pytestmark = pytest.mark.django_db

HOSTNAME = "two-node-host"  # the hostname of the two_node fixture tree


@pytest.fixture
def sampled_host() -> Host:
    """The two_node fixture host after two samples ten seconds apart (so it has rates)."""
    first = fixture_sample("two_node")
    ingest.record_sample(sample=first)
    ingest.record_sample(sample=advanced(first, 10))
    return Host.objects.get(hostname=HOSTNAME)


@pytest.fixture
def pinning_event(sampled_host: Host) -> PinningEvent:
    return PinningEvent.objects.create(host=sampled_host, kind=PinningEvent.Kind.CPU_MANAGER_STATIC,
                                       changed_at=timezone.now() - timedelta(hours=2), who="kube-team",
                                       note="static CPU manager on the payments pool")


def test_the_fixture_host_really_has_samples_and_rates(sampled_host: Host) -> None:
    assert sampled_host.samples.count() == 2
    assert sampled_host.node_count == 2 and sampled_host.latest_remote_share == pytest.approx(0.1)


def test_host_changelist_lists_the_host_with_its_nodes(admin_client: Client, sampled_host: Host) -> None:
    response = admin_client.get("/admin/numa/host/")
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="/admin/numa/host/{sampled_host.pk}/change/"' in page and HOSTNAME in page
    assert '<td class="field-node_count">2</td>' in page


def test_host_changelist_search_finds_by_hostname(admin_client: Client, sampled_host: Host) -> None:
    Host.objects.create(hostname="other-host")
    found = admin_client.get("/admin/numa/host/?q=two-node").content.decode()
    assert HOSTNAME in found and "other-host" not in found


def test_host_change_view_shows_the_sampled_host(admin_client: Client, sampled_host: Host) -> None:
    response = admin_client.get(f"/admin/numa/host/{sampled_host.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200
    assert f'value="{HOSTNAME}"' in page  # the editable hostname
    assert 'name="work_metric_name"' in page and 'name="_save"' in page
    assert "field-topology" in page and "cpulists" in page  # the recorded topology, read-only
    assert 'name="topology"' not in page and 'name="node_count"' not in page


def test_host_change_view_saves_the_editable_fields_only(admin_client: Client, sampled_host: Host) -> None:
    response = admin_client.post(f"/admin/numa/host/{sampled_host.pk}/change/", {
        "hostname": HOSTNAME, "delivery": "agent", "work_metric_name": "requests served", "node_count": 99})
    assert response.status_code == 302
    sampled_host.refresh_from_db()
    assert (sampled_host.delivery, sampled_host.enabled, sampled_host.work_metric_name) == (
        "agent", False, "requests served")
    assert sampled_host.node_count == 2  # read-only: the posted value is ignored


def test_pinning_event_changelist_and_change_view_render(admin_client: Client, pinning_event: PinningEvent) -> None:
    listing = admin_client.get("/admin/numa/pinningevent/")
    assert listing.status_code == 200
    assert "kube-team" in listing.content.decode() and "CPU manager: static" in listing.content.decode()
    change = admin_client.get(f"/admin/numa/pinningevent/{pinning_event.pk}/change/")
    page = change.content.decode()
    assert change.status_code == 200
    assert "static CPU manager on the payments pool" in page
    assert f'<option value="{pinning_event.host_id}" selected>{HOSTNAME}</option>' in page  # autocomplete widget


def test_pinning_event_changelist_filters_by_kind(admin_client: Client, pinning_event: PinningEvent) -> None:
    PinningEvent.objects.create(host=pinning_event.host, kind=PinningEvent.Kind.MANUAL,
                                changed_at=timezone.now() - timedelta(hours=1), note="a manual note")
    page = admin_client.get("/admin/numa/pinningevent/?kind=manual").content.decode()
    assert "a manual note" in page and "kube-team" not in page


def test_pinning_event_added_in_the_admin_records_who_entered_it(admin_client: Client, sampled_host: Host) -> None:
    assert admin_client.get("/admin/numa/pinningevent/add/").status_code == 200
    moment = timezone.localtime(timezone.now() - timedelta(hours=3))
    response = admin_client.post("/admin/numa/pinningevent/add/", {
        "host": sampled_host.pk, "kind": "memory_manager", "note": "memory manager on",
        "changed_at_0": moment.strftime("%Y-%m-%d"), "changed_at_1": moment.strftime("%H:%M:%S")})
    assert response.status_code == 302, response.content.decode()[:3000]
    event = PinningEvent.objects.get()
    assert (event.host, event.kind, event.who) == (sampled_host, "memory_manager", "admin")


def test_host_autocomplete_used_by_pinning_events_finds_the_host(admin_client: Client, sampled_host: Host) -> None:
    answer = admin_client.get("/admin/autocomplete/", {
        "term": "two", "app_label": "numa", "model_name": "pinningevent", "field_name": "host"})
    assert answer.status_code == 200
    assert [result["text"] for result in answer.json()["results"]] == [HOSTNAME]


def test_numa_admin_is_closed_to_staff_without_numa_permissions(sampled_host: Host) -> None:
    staff = User.objects.create_user("staff-only", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/numa/host/").status_code == 403
    assert client.get(f"/admin/numa/host/{sampled_host.pk}/change/").status_code == 403


def test_host_page_of_an_unknown_host_is_404(admin_client: Client, sampled_host: Host) -> None:
    assert admin_client.get("/numa/hosts/no-such-host/").status_code == 404
    assert admin_client.get(f"/numa/hosts/{HOSTNAME}/").status_code == 200  # the known one is there
