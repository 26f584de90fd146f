"""Pages of the verifiers (read, write, reconciliation)."""

from django.shortcuts import render


def read_page(request):
    return render(request, "verifiers/placeholder.html", {"active": "read", "title": "Read verifier"})


def write_page(request):
    return render(request, "verifiers/placeholder.html", {"active": "write", "title": "Write verifier"})


def reconciliation_page(request):
    return render(
        request, "verifiers/placeholder.html", {"active": "reconciliation", "title": "Reconciliation"}
    )
