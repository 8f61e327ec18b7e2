"""Typed app keys of the exporter's shared objects (one module, so nothing imports in circles)."""

from __future__ import annotations

from aiohttp import web

from exporter.calls import CallTracker
from exporter.config import ExporterConfig
from exporter.metrics import ExporterMetrics

METRICS = web.AppKey("exporter_metrics", ExporterMetrics)
TRACKER = web.AppKey("exporter_tracker", CallTracker)
CONFIG = web.AppKey("exporter_config", ExporterConfig)
STATES = web.AppKey("exporter_provider_states", dict)      # provider -> health.ProviderState
INGEST = web.AppKey("exporter_ingest", object)             # webhooks.WebhookIngest
