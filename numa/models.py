"""NUMA storage: hosts, per-sample derived rates, per-minute and per-hour roll-ups, pinning events
and their computed gains.

Kept small on purpose: the raw counters needed for the next rate live once per host
(Host.last_counters, overwritten at every sample); each sample row holds only derived rates.
Raw rows are rolled up per minute and per hour, then deleted (numa/conf.py retention knobs).
"""

from __future__ import annotations

from django.db import models


class Host(models.Model):
    """A machine whose NUMA counters are collected (by its own Celery worker or by the agent)."""

    class Delivery(models.TextChoices):
        WORKER = "worker", "Celery worker on the host (beat asks it to collect)"
        AGENT = "agent", "numa_agent posting to the API"
        SYNTHETIC = "synthetic", "Demo data (never collected)"

    hostname = models.CharField(max_length=253, unique=True)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.WORKER)
    enabled = models.BooleanField(
        default=True, help_text="Collect from this host and watch it for silence."
    )
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    silent = models.BooleanField(default=False)
    silent_since = models.DateTimeField(null=True, blank=True)
    node_count = models.PositiveSmallIntegerField(default=0)
    # {"cpulists": {"0": [0, 1]}, "distances": {"0": [10, 21]}, "memory_kb": {"0": 32823756}}
    topology = models.JSONField(default=dict, blank=True)
    numa_balancing = models.SmallIntegerField(null=True, blank=True)
    unavailable = models.JSONField(
        default=dict, blank=True, help_text="metric -> why it is not available"
    )
    # name -> {available, reason, tool, values}: the hourly short eBPF/perf measurement.
    extras = models.JSONField(
        default=dict, blank=True, help_text="eBPF/perf extras measured on the host (hourly)"
    )
    extras_probed_at = models.DateTimeField(null=True, blank=True)
    # Latest placement only (overwritten every sample): one row per leaf cgroup, pinned first.
    containers = models.JSONField(
        default=list, blank=True, editable=False, help_text="What is pinned where (cgroup v2)"
    )
    top_processes = models.JSONField(
        default=list, blank=True, editable=False, help_text="Top processes' NUMA fields"
    )
    # {available, source, policies: {cpuManagerPolicy...}, defaulted, details, reason}; the
    # policies are the last ones actually read, kept when a later read fails.
    kubelet = models.JSONField(
        default=dict, blank=True, editable=False, help_text="Kubelet configz policies"
    )
    kubelet_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    work_metric_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="Throughput counter posted with samples, e.g. 'requests served'.",
    )
    # The raw counters of the latest sample (compact HostSample dict): the base of the next rate.
    last_counters = models.JSONField(null=True, blank=True, editable=False)
    last_work_total = models.FloatField(null=True, blank=True, editable=False)
    # Latest derived values, denormalised so the overview reads one row per host.
    latest_sampled_at = models.DateTimeField(null=True, blank=True)
    latest_remote_share = models.FloatField(null=True, blank=True)
    latest_migrated_pages_per_s = models.FloatField(null=True, blank=True)
    latest_cpu_cores = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname

    @property
    def queue_name(self) -> str:
        """The Celery queue the host's own worker consumes."""
        return f"numa.{self.hostname}"


class MetricColumns(models.Model):
    """Derived NUMA values shared by samples and roll-ups (None = no data for the interval)."""

    remote_share = models.FloatField(null=True, blank=True)
    numa_miss_share = models.FloatField(null=True, blank=True)
    migrated_pages_per_s = models.FloatField(null=True, blank=True)
    migrated_mib_per_s = models.FloatField(null=True, blank=True)
    hint_faults_per_s = models.FloatField(null=True, blank=True)
    hint_fault_locality = models.FloatField(null=True, blank=True)
    cpu_cores = models.FloatField(null=True, blank=True, help_text="CPU cores busy on the host")
    node_cpu_cores = models.JSONField(
        default=dict, blank=True, help_text='{"0": cores busy on node 0}'
    )
    node_remote_share = models.JSONField(default=dict, blank=True)
    work_per_s = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True


class RawSample(MetricColumns):
    """One collection: the rates between it and the host's previous sample."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="samples")
    sampled_at = models.DateTimeField()
    interval_s = models.FloatField(
        null=True, blank=True, help_text="None for a host's first sample"
    )
    rebooted = models.BooleanField(default=False)
    reset_counters = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "sampled_at"], name="numa_sample_host_time")
        ]
        ordering = ["host", "sampled_at"]

    def __str__(self) -> str:
        return f"{self.host} @ {self.sampled_at:%Y-%m-%d %H:%M:%S}"


class Rollup(MetricColumns):
    """Interval-weighted means of the samples inside one bucket."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE)
    bucket_start = models.DateTimeField()
    samples = models.PositiveIntegerField(default=0)
    covered_s = models.FloatField(default=0.0, help_text="Seconds of rates inside the bucket")

    class Meta:
        abstract = True
        ordering = ["host", "bucket_start"]


class MinuteRollup(Rollup):
    class Meta(Rollup.Meta):
        constraints = [
            models.UniqueConstraint(fields=["host", "bucket_start"], name="numa_minute_host_bucket")
        ]


class HourRollup(Rollup):
    class Meta(Rollup.Meta):
        constraints = [
            models.UniqueConstraint(fields=["host", "bucket_start"], name="numa_hour_host_bucket")
        ]


class PinningEvent(models.Model):
    """A change of a host's CPU/memory placement policy, and when it took effect."""

    class Kind(models.TextChoices):
        CPU_MANAGER_STATIC = "cpu_manager_static", "CPU manager: static"
        MEMORY_MANAGER = "memory_manager", "Memory manager: Static"
        TOPOLOGY_SINGLE_NUMA_NODE = (
            "topology_single_numa_node",
            "Topology manager: single-numa-node",
        )
        MANUAL = "manual", "Manual note"

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="pinning_events")
    changed_at = models.DateTimeField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    note = models.TextField(blank=True)
    who = models.CharField(max_length=150, blank=True, help_text="Who made or recorded the change")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host", "changed_at", "kind"], name="numa_pinning_host_time_kind"
            )
        ]
        indexes = [models.Index(fields=["-changed_at"], name="numa_pinning_changed")]
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.host}: {self.get_kind_display()} at {self.changed_at:%Y-%m-%d %H:%M}"


class EventGain(models.Model):
    """The gain of one pinning event, computed by the numa.compute_gain task (never in a request).

    One row per event. A recompute bumps `generation`; a run writes only while its generation is
    the current one, so a stale run (an older request, or the same task delivered twice) cannot
    overwrite a newer result. `report` keeps the last finished result while a recompute runs.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Computing"
        DONE = "done"
        FAILED = "failed"

    event = models.OneToOneField(PinningEvent, on_delete=models.CASCADE, related_name="gain")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    generation = models.PositiveIntegerField(default=1)
    window_s = models.FloatField(help_text="Length of the before and after windows (seconds)")
    gap_s = models.FloatField(help_text="Rollout gap left out after the event (seconds)")
    requested_at = models.DateTimeField()
    requested_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    hosts_done = models.PositiveIntegerField(default=0)
    hosts_total = models.PositiveIntegerField(default=0)
    # The last finished report (windows, per-host and cluster figures, kernel check) and when.
    report = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.TextField(blank=True)

    class Meta:
        permissions = [("compute_eventgain", "Can ask for a pinning event's gain to be computed")]

    def __str__(self) -> str:
        return f"gain of {self.event_id}: {self.status}"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)
