"""Optional OpenTelemetry: when OTEL_EXPORTER_OTLP_ENDPOINT is set, each request becomes a span.

Off by default and nothing requires it: the packages come with the `otel` extra
(`pip install -e '.[otel]'`). The spans (Falcon's instrumentation) go over OTLP/HTTP to the
endpoint, e.g. a local Jaeger or an OpenTelemetry Collector on http://127.0.0.1:4318; the
standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...) apply.
"""

from __future__ import annotations

import os
import threading

ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE = "scaling-lab"

_lock = threading.Lock()
_provider = None


def setup():
    """Start tracing once per process if the endpoint is set (before the falcon.App is built);
    return the tracer provider, or None when tracing is off."""
    global _provider
    if not os.environ.get(ENV):
        return None
    with _lock:
        if _provider is not None:
            return _provider
        try:
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.instrumentation.falcon import FalconInstrumentor
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise RuntimeError(
                f"{ENV} is set, but OpenTelemetry is not installed ({exc.name} is missing): "
                "install the extra with pip install -e '.[otel]', or unset the variable"
            ) from exc
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE}
        provider = TracerProvider(resource=Resource.create(attributes))
        # The exporter reads the endpoint (and headers, timeouts) from the OTEL_* variables.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        # Patches falcon.App: every app built after this is traced.
        FalconInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
        return provider
