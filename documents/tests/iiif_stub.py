"""
A IIIF image server for the tests, served from a thread of the test process on localhost: it
answers `<identifier>/info.json` for the images it is given, and records every request, so that a
test can tell whether the server was asked anything. Never the network.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

CONTEXTS = {2: "http://iiif.io/api/image/2/context.json", 3: "http://iiif.io/api/image/3/context.json"}


class IIIFStub:
    def __init__(self, server):
        self.server = server
        # identifier (as in URLs) -> (width, height)
        self.images = {}
        # identifier -> (status, body): answers other than a description
        self.answers = {}
        self.version = 2
        self.requests = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/iiif"

    def image_url(self, identifier):
        return f"{self.url}/{identifier}"

    def add(self, identifier, width, height):
        self.images[identifier] = (width, height)
        return self.image_url(identifier)

    def info(self, identifier):
        width, height = self.images[identifier]
        id_key = "id" if self.version >= 3 else "@id"
        return {
            "@context": CONTEXTS[self.version],
            id_key: self.image_url(identifier),
            "protocol": "http://iiif.io/api/image",
            "width": width,
            "height": height,
            "profile": ["http://iiif.io/api/image/2/level1.json"] if self.version < 3 else "level1",
        }


def make_handler(stub):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            stub.requests.append(self.path)
            prefix = "/iiif/"
            if not self.path.startswith(prefix) or not self.path.endswith("/info.json"):
                return self.answer(404, b"Not found", "text/plain")
            identifier = self.path[len(prefix) : -len("/info.json")]
            if identifier in stub.answers:
                status, body = stub.answers[identifier]
                return self.answer(status, body if isinstance(body, bytes) else body.encode(), "application/json")
            if identifier not in stub.images and unquote(identifier) not in stub.images:
                return self.answer(404, b"No such image", "text/plain")
            key = identifier if identifier in stub.images else unquote(identifier)
            return self.answer(200, json.dumps(stub.info(key)).encode(), "application/ld+json")

        def answer(self, status, body, content_type):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler


@pytest.fixture
def iiif_server():
    """A running `IIIFStub`, stopped at the end of the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    stub = IIIFStub(server)
    server.RequestHandlerClass = make_handler(stub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()
    thread.join(5)
