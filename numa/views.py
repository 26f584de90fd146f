"""NUMA pages."""

from django.shortcuts import render


def numa_page(request):
    return render(request, "verifiers/placeholder.html", {"active": "numa", "title": "NUMA"})
