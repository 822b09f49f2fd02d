"""A small stand-in for the Hugging Face Hub, on 127.0.0.1.

Downloads: it answers `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}` with the headers
`huggingface_hub.hf_hub_download` reads (X-Repo-Commit, ETag, Content-Length), so the real
client can be pointed at it with HF_ENDPOINT. Files come from the `files` mapping given to
`serve_hub` ("owner/name@revision/filename" -> local file, answered with commit `COMMIT`) or
from commits made through the upload endpoints below (at the commit's sha or a branch name).

Uploads, as huggingface_hub 2.4 sends them (`HfApi.create_repo`, `create_commit`, `upload_folder`;
shapes from its `hf_api.py` and `_commit_api.py`):

- `POST /api/repos/create` {"name", "organization", "type", "visibility"} -> {"url"}; 409 (with
  the "url" too) when the repository exists, which `exist_ok=True` accepts;
- `POST /api/models/{repo_id}/preupload/{revision}` {"files": [{"path", "sample", "size"}]} ->
  every file "regular", so no LFS or Xet upload follows;
- `POST /api/models/{repo_id}/commit/{revision}`: NDJSON, a "header" line then one "file" line
  per file (base64 content) -> {"commitOid", "commitUrl"}; the new tree is the branch's tree
  plus the files.

Anything else gets a 404 whose JSON body (and X-Error-Message header) names the request.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import http.server
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the commit of the files given to serve_hub
DEFAULT_BRANCH = "main"


@dataclass
class Commit:
    oid: str
    repo_id: str
    parent: str | None
    summary: str
    files: dict[str, Path]  # the whole tree at this commit: path in repo -> blob


@dataclass
class HubState:
    """What the stand-in holds; pass one to `serve_hub` to look inside from a test.

    Attributes:
        repos: repo_id -> {"private": bool}, for repositories made by `create_repo`.
        branches: (repo_id, branch) -> commit oid.
        commits: commit oid -> Commit.
        writes: (request line, Authorization header or None) of every POST.
        refuse_writes: when set, every POST is answered 403 with this message (a token
            without write access).
    """

    repos: dict[str, dict] = field(default_factory=dict)
    branches: dict[tuple[str, str], str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    writes: list[tuple[str, str | None]] = field(default_factory=list)
    refuse_writes: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def commit_at(self, repo_id: str, revision: str) -> Commit | None:
        """The commit a revision (a commit sha or a branch name) names in a repository."""
        commit = self.commits.get(revision)
        if commit is not None and commit.repo_id == repo_id:
            return commit
        oid = self.branches.get((repo_id, revision))
        return self.commits[oid] if oid else None


class HubError(Exception):
    """An error answer: status, X-Error-Code (or None) and message."""

    def __init__(self, status: int, code: str | None, message: str, **extra) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _handler(files: dict[str, Path], requests: list[str], hub: HubState, blobs: Path):
    etags: dict[Path, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        # --- answers ---------------------------------------------------------------------------

        def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, error: HubError) -> None:
            headers = {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            self._json(error.status, {"error": error.message, **error.extra}, headers)

        def _not_an_endpoint(self) -> HubError:
            return HubError(404, None, f"hub stand-in: no endpoint for {self.command} {urlsplit(self.path).path}")

        # --- downloads -------------------------------------------------------------------------

        def _lookup(self) -> tuple[Path, str, str]:
            """(file, etag, commit) for a resolve URL, or a HubError."""
            parts = [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]
            # repo ids have one slash: owner/name/resolve/revision/filename
            if len(parts) < 5 or parts[2] != "resolve":
                raise self._not_an_endpoint()
            repo_id, revision, filename = f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:])
            path = files.get(f"{repo_id}@{revision}/{filename}")
            if path is not None:
                if path not in etags:
                    etags[path] = _sha256_file(path)
                return path, etags[path], COMMIT
            with hub.lock:
                commit = hub.commit_at(repo_id, revision)
                known_repo = repo_id in hub.repos or any(key.startswith(f"{repo_id}@") for key in files)
            if commit is None and not known_repo:
                raise HubError(404, "RepoNotFound", f"Repository {repo_id} not found")
            if commit is None and not any(key.startswith(f"{repo_id}@{revision}/") for key in files):
                raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            if commit is None or filename not in commit.files:
                raise HubError(404, "EntryNotFound", f"{filename} does not exist in {repo_id}@{revision}")
            blob = commit.files[filename]
            return blob, blob.name, commit.oid

        def _serve_file(self, with_body: bool) -> None:
            requests.append(f"{self.command} {self.path}")
            try:
                path, etag, commit = self._lookup()
            except HubError as error:
                self._error(error)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Repo-Commit", commit)
            self.end_headers()
            if with_body:
                with open(path, "rb") as handle:
                    shutil.copyfileobj(handle, self.wfile, 1 << 20)

        def do_HEAD(self):
            self._serve_file(with_body=False)

        def do_GET(self):
            self._serve_file(with_body=True)

        # --- uploads ---------------------------------------------------------------------------

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self):
            requests.append(f"{self.command} {self.path}")
            with hub.lock:
                hub.writes.append((f"{self.command} {self.path}", self.headers.get("Authorization")))
            body = self._body()
            url = urlsplit(self.path)
            parts = [unquote(part) for part in url.path.strip("/").split("/")]
            try:
                if hub.refuse_writes:
                    raise HubError(403, None, hub.refuse_writes)
                if parts == ["api", "repos", "create"]:
                    answer = self._create_repo(body)
                elif len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] in ("preupload", "commit"):
                    repo_id, revision = f"{parts[2]}/{parts[3]}", parts[5]
                    if parse_qs(url.query).get("create_pr") == ["1"]:
                        raise HubError(400, None, "hub stand-in: pull requests (create_pr) are not supported")
                    with hub.lock:
                        if repo_id not in hub.repos:
                            raise HubError(404, "RepoNotFound", f"Repository {repo_id} not found")
                    if parts[4] == "preupload":
                        answer = self._preupload(body)
                    else:
                        answer = self._commit(repo_id, revision, body)
                else:
                    raise self._not_an_endpoint()
            except HubError as error:
                self._error(error)
                return
            self._json(200, answer)

        def _endpoint(self) -> str:
            return f"http://{self.headers.get('Host') or f'127.0.0.1:{self.server.server_address[1]}'}"

        def _create_repo(self, body: bytes) -> dict:
            payload = _json_object(body)
            if payload.get("type", "model") != "model":
                raise HubError(400, None, f"hub stand-in: only model repositories, not {payload.get('type')!r}")
            name, organization = payload.get("name"), payload.get("organization")
            if not name or not organization:
                raise HubError(400, None, "hub stand-in: create needs 'name' and 'organization' (repo ids are owner/name)")
            repo_id, url = f"{organization}/{name}", f"{self._endpoint()}/{organization}/{name}"
            with hub.lock:
                if repo_id in hub.repos:  # the Hub names the repository in its 409 too; create_repo reads it
                    raise HubError(409, None, f"You already created this model repo: {repo_id}", url=url)
                hub.repos[repo_id] = {"private": payload.get("visibility") == "private"}
            return {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]}

        def _preupload(self, body: bytes) -> dict:
            listed = _json_object(body).get("files")
            if not isinstance(listed, list) or not all(isinstance(item, dict) and "path" in item for item in listed):
                raise HubError(400, None, "hub stand-in: preupload expects {'files': [{'path', 'sample', 'size'}, ...]}")
            return {"files": [{"path": item["path"], "uploadMode": "regular", "shouldIgnore": False} for item in listed]}

        def _commit(self, repo_id: str, revision: str, body: bytes) -> dict:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            if not lines or lines[0].get("key") != "header" or not lines[0].get("value", {}).get("summary"):
                raise HubError(400, None, "hub stand-in: a commit starts with a 'header' line that has a 'summary'")
            header = lines[0]["value"]
            added: dict[str, Path] = {}
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value") or {}
                if key != "file":
                    raise HubError(400, None, f"hub stand-in: commit lines of kind {key!r} are not supported (only 'file')")
                if value.get("encoding") != "base64" or not value.get("path"):
                    raise HubError(400, None, "hub stand-in: a 'file' line needs 'path' and base64 'content'")
                try:
                    data = base64.b64decode(value.get("content", ""), validate=True)
                except binascii.Error as error:
                    raise HubError(400, None, f"hub stand-in: {value['path']}: bad base64 ({error})") from None
                digest = hashlib.sha256(data).hexdigest()
                blob = blobs / digest
                if not blob.exists():
                    partial = blobs / f"{digest}.part"
                    partial.write_bytes(data)
                    partial.replace(blob)
                added[value["path"]] = blob
            with hub.lock:
                head = hub.branches.get((repo_id, revision))
                if head is None and revision != DEFAULT_BRANCH:
                    raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision} (the stand-in commits to branches only)")
                if header.get("parentCommit") and header["parentCommit"] != head:
                    raise HubError(412, None, f"parentCommit {header['parentCommit']} is not the head of {revision} ({head})")
                tree = dict(hub.commits[head].files) if head else {}
                tree.update(added)
                seed = f"{repo_id}\n{head}\n{header['summary']}\n{len(hub.commits)}\n" + "".join(
                    f"{path} {blob.name}\n" for path, blob in sorted(tree.items())
                )
                oid = hashlib.sha1(seed.encode()).hexdigest()
                hub.commits[oid] = Commit(oid, repo_id, head, header["summary"], tree)
                hub.branches[(repo_id, revision)] = oid
            return {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self._endpoint()}/{repo_id}/commit/{oid}",
                "pullRequestUrl": None,
            }

        def _unknown(self):
            requests.append(f"{self.command} {self.path}")
            self._error(self._not_an_endpoint())

        do_PUT = do_DELETE = do_PATCH = _unknown

    return Handler


def _json_object(body: bytes) -> dict:
    try:
        payload = json.loads(body or b"{}")
    except json.JSONDecodeError as error:
        raise HubError(400, None, f"hub stand-in: the body is not JSON ({error})") from None
    if not isinstance(payload, dict):
        raise HubError(400, None, "hub stand-in: the body is not a JSON object")
    return payload


@contextlib.contextmanager
def serve_hub(files: dict[str, Path] | None = None, hub: HubState | None = None):
    """Serves a stand-in Hub on 127.0.0.1 while the block runs.

    Args:
        files: maps "owner/name@revision/filename" to a local file (served with commit COMMIT).
        hub: the state for uploaded repositories and commits (a fresh one when None); pass
            your own to look at repos, commits and writes afterwards.

    Yields:
        (endpoint, requests): the base URL for HF_ENDPOINT and the list of "METHOD path" lines
        received.
    """
    requests: list[str] = []
    hub = hub if hub is not None else HubState()
    with tempfile.TemporaryDirectory(prefix="hub-stand-in-") as blobs:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(files or {}, requests, hub, Path(blobs)))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", requests
        finally:
            server.shutdown()
            server.server_close()
