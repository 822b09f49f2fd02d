"""A small stand-in for the Hugging Face Hub's file endpoints, on 127.0.0.1.

It answers `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}` with the headers
`huggingface_hub.hf_hub_download` reads (X-Repo-Commit, ETag, Content-Length), so the real
client can be pointed at it with HF_ENDPOINT.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _handler(files: dict[str, Path], requests: list[str]):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _lookup(self) -> Path | None:
            requests.append(f"{self.command} {self.path}")
            parts = self.path.split("?")[0].strip("/").split("/")
            # repo ids have one slash: owner/name/resolve/revision/filename
            if len(parts) < 5 or parts[2] != "resolve":
                return None
            return files.get(f"{parts[0]}/{parts[1]}@{parts[3]}/{'/'.join(parts[4:])}")

        def _headers(self, path: Path) -> None:
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.end_headers()

        def do_HEAD(self):
            path = self._lookup()
            if path is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.end_headers()
                return
            self._headers(path)

        def do_GET(self):
            path = self._lookup()
            if path is None:
                self.send_response(404)
                self.end_headers()
                return
            self._headers(path)
            self.wfile.write(path.read_bytes())

    return Handler


@contextlib.contextmanager
def serve_hub(files: dict[str, Path]):
    """`files` maps "owner/name@revision/filename" to a local file. Yields (endpoint, requests)."""
    requests: list[str] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(files, requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
