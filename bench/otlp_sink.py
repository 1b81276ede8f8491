"""A stand-in OTLP/HTTP collector for measuring what tracing costs the services.

    .venv/bin/python bench/otlp_sink.py --port 4318 &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 .venv/bin/python bench/run.py --quick

It accepts every export, decodes it (so the exporter pays what it pays against a real
collector, no more), counts spans per service and prints the counts when stopped (Ctrl-C or
SIGTERM). The services read the endpoint from the environment `bench/run.py` passes on.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SPANS: Counter[str] = Counter()
LOCK = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
        with LOCK:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "?",
                )
                SPANS[service] += sum(len(s.spans) for s in resource_spans.scope_spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Sink)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"OTLP/HTTP sink on http://127.0.0.1:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    with LOCK:
        print("spans received:", dict(SPANS), "total", sum(SPANS.values()), file=sys.stderr)


if __name__ == "__main__":
    main()
