"""Media references in requests -> checked local files.

* `data:` URLs (base64, or percent-encoded) are decoded into a private temporary file;
* `file://` URLs only under `--allowed-local-media-path` (resolved first: `..` and symlinks can't
  leave it), as vLLM does;
* `http(s)://` only with `--allow-remote-media`: hosts in `--allowed-media-domains` (when given),
  never private, loopback or link-local addresses (unless `--allow-private-media-hosts`), every
  redirect hop checked again; with a timeout and a size cap.

`MediaPolicy.local_file` and `MediaPolicy.check_url` are the one decision on where media may come
from, for the API (`file://`, `http(s)://`) and for the chat (its uploads, example clips and the
allowed local folder: `extra_local_roots`).

Every file is then probed (container headers only) for the stream the part needs and for the
size and length limits; anything wrong is an `APIError` naming the part (`param`) and the reason.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import mimetypes
import os
import socket
import tempfile
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path

from data_pipeline.errors import MediaError
from serve.errors import APIError, bad_request

logger = logging.getLogger(__name__)

MEDIA_KINDS = ("video", "image", "audio")
DEFAULT_SUFFIX = {"video": ".mp4", "image": ".png", "audio": ".wav"}
EXTRA_MIME_SUFFIXES = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3", "audio/mp3": ".mp3",
                       "video/webm": ".webm", "audio/webm": ".webm", "image/jpg": ".jpg"}


@dataclass
class MediaPolicy:
    """Where media may come from and how big they may be (per item)."""

    allowed_local_media_path: Path | None = None
    allow_remote_media: bool = False
    allowed_media_domains: tuple[str, ...] | None = None  # None: any public host
    allow_private_media_hosts: bool = False
    remote_timeout: float = 10.0
    max_redirects: int = 5
    max_media_bytes: int = 64 * 2**20
    max_media_seconds: float = 600.0
    limit_mm_per_prompt: dict[str, int] = field(default_factory=lambda: {k: 1 for k in MEDIA_KINDS})
    extra_local_roots: tuple[Path, ...] = ()  # the chat's upload folder and example clips

    def __post_init__(self):
        if self.allowed_local_media_path is not None:
            self.allowed_local_media_path = Path(self.allowed_local_media_path).resolve()
        self.extra_local_roots = tuple(Path(root).resolve() for root in self.extra_local_roots)
        if self.allowed_media_domains is not None:
            self.allowed_media_domains = tuple(d.strip().lower().rstrip(".") for d in self.allowed_media_domains)

    def with_local_roots(self, *roots: str | os.PathLike) -> MediaPolicy:
        """The same policy, also trusting these folders (the chat's uploads and examples)."""
        return replace(self, extra_local_roots=self.extra_local_roots + tuple(Path(r) for r in roots))

    @property
    def local_roots(self) -> tuple[Path, ...]:
        return ((self.allowed_local_media_path,) if self.allowed_local_media_path else ()) + self.extra_local_roots

    def local_file(self, raw: str | os.PathLike, param: str) -> Path:
        """The resolved file if it lies under an allowed folder (after `..` and symlinks), else 403."""
        roots = self.local_roots
        if not roots:
            raise APIError(403, f"{param}: local files are refused; the server was started without "
                           "--allowed-local-media-path", param=param, code="local_media_not_allowed")
        path = Path(os.path.realpath(raw))
        if not any(path.is_relative_to(root) for root in roots):
            raise APIError(403, f"{param}: {raw} is outside the allowed media folders ("
                           f"{', '.join(map(str, roots))}); upload the file, or use --allowed-local-media-path",
                           param=param, code="local_media_not_allowed")
        if not path.is_file():
            raise bad_request(f"{param}: file not found: {raw}", param, "media_not_found")
        return path

    def check_url(self, url: str, param: str) -> None:
        """An http(s) URL may be fetched: remote media on, host allowed, no private address (403)."""
        if not self.allow_remote_media:
            raise APIError(403, f"{param}: remote media URLs are off; send the media as a base64 data: URL, or "
                           "start the server with --allow-remote-media", param=param, code="remote_media_not_allowed")
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise bad_request(f"{param}: {_short(url)} is not an http(s) URL with a host", param, "invalid_media_url")
        if self.allowed_media_domains is not None and host not in self.allowed_media_domains:
            raise APIError(403, f"{param}: the host {host} is not in --allowed-media-domains "
                           f"({', '.join(self.allowed_media_domains) or 'empty'})", param=param,
                           code="media_domain_not_allowed")
        if self.allow_private_media_hosts:
            return
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
        except (OSError, UnicodeError) as error:
            raise bad_request(f"{param}: can't resolve {host} ({error})", param, "media_fetch_failed") from None
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:127.0.0.1 is loopback too
            if not ip.is_global or ip.is_multicast:
                raise APIError(403, f"{param}: {host} resolves to {ip}, a private, loopback or link-local address; "
                               "start the server with --allow-private-media-hosts to fetch from it", param=param,
                               code="media_host_not_allowed")


def parse_limit_mm(text: str | None) -> dict[str, int]:
    """`video=1,image=1,audio=1` or JSON `{"video": 1}` -> counts per kind (missing kinds: 1)."""
    limits = {k: 1 for k in MEDIA_KINDS}
    if not text:
        return limits
    try:
        given = json.loads(text) if text.strip().startswith("{") else dict(
            (item.split("=", 1)[0].strip(), item.split("=", 1)[1]) for item in text.split(",") if item.strip())
        parsed = {str(k): int(v) for k, v in given.items()}
    except (ValueError, IndexError, AttributeError):
        raise ValueError(f"--limit-mm-per-prompt: can't parse {text!r}; write e.g. video=1,image=1,audio=1 "
                         'or {"video": 1}') from None
    for kind, count in parsed.items():
        if kind not in MEDIA_KINDS:
            raise ValueError(f"--limit-mm-per-prompt: unknown media kind {kind!r} (known: {', '.join(MEDIA_KINDS)})")
        if not 0 <= count <= 1:
            raise ValueError(f"--limit-mm-per-prompt: {kind}={count}; this model sees at most one {kind} per "
                             "conversation, so the limit is 0 or 1")
    return limits | parsed


@dataclass
class FetchedMedia:
    path: Path
    kind: str
    param: str
    owned: bool  # a temporary file of ours, deleted by `release`
    duration: float = 0.0
    has_audio: bool = False
    has_video: bool = False


class MediaFetcher:
    def __init__(self, policy: MediaPolicy, temp_dir: str | os.PathLike | None = None):
        self.policy = policy
        self.temp_dir = Path(temp_dir or tempfile.mkdtemp(prefix="emollm-media-"))
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def fetch(self, url: str, kind: str, param: str) -> FetchedMedia:
        """Resolve one URL to a checked local file (see the module docstring)."""
        colon = url.find(":", 0, 12)
        scheme = url[:colon].lower() if colon > 0 else ""
        if scheme == "data":
            media = self._from_data_url(url, kind, param)
        elif scheme == "file":
            media = self._from_local_path(url, kind, param)
        elif scheme in ("http", "https"):
            media = self._from_remote(url, kind, param)
        else:
            raise bad_request(f"{param}: unsupported media URL {_short(url)!r}; use a base64 `data:` URL, a "
                              "`file://` URL under the allowed local media path, or (if enabled) http(s)",
                              param, "invalid_media_url")
        try:
            self.check(media)
        except APIError:
            self.release(media)
            raise
        return media

    def from_data(self, data: str, suffix: str, kind: str, param: str) -> FetchedMedia:
        """Base64 payload without a URL around it (OpenAI's `input_audio`)."""
        media = self._store(self._b64decode(data, param), suffix, kind, param)
        try:
            self.check(media)
        except APIError:
            self.release(media)
            raise
        return media

    def local(self, path: str | os.PathLike, kind: str, param: str) -> FetchedMedia:
        """A file already on this machine (the chat's uploads and examples): the policy, then the checks."""
        media = FetchedMedia(self.policy.local_file(path, param), kind, param, owned=False)
        self.check(media)
        return media

    def release(self, media: FetchedMedia) -> None:
        if media.owned:
            media.path.unlink(missing_ok=True)

    # --- sources -------------------------------------------------------------------------------
    def _from_data_url(self, url: str, kind: str, param: str) -> FetchedMedia:
        header, sep, payload = url[5:].partition(",")
        if not sep:
            raise bad_request(f"{param}: malformed data URL (no ',' between header and data)", param, "invalid_data_url")
        mime, *options = header.split(";")
        if "base64" in options:
            data = self._b64decode(payload, param)
        else:
            data = urllib.parse.unquote_to_bytes(payload)
            self._check_size(len(data), param)
        return self._store(data, _suffix_for(mime.strip().lower(), kind), kind, param)

    def _b64decode(self, payload: str, param: str) -> bytes:
        payload = payload.strip()
        self._check_size(len(payload) * 3 // 4, param)
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as error:
            raise bad_request(f"{param}: invalid base64 data ({error})", param, "invalid_base64") from None
        if not data:
            raise bad_request(f"{param}: the data is empty", param, "invalid_media")
        return data

    def _store(self, data: bytes, suffix: str, kind: str, param: str) -> FetchedMedia:
        handle, name = tempfile.mkstemp(dir=self.temp_dir, suffix=suffix)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return FetchedMedia(Path(name), kind, param, owned=True)

    def _from_local_path(self, url: str, kind: str, param: str) -> FetchedMedia:
        parts = urllib.parse.urlsplit(url)
        raw = urllib.parse.unquote(parts.path if not parts.netloc else f"//{parts.netloc}{parts.path}")
        return FetchedMedia(self.policy.local_file(raw, param), kind, param, owned=False)

    def _from_remote(self, url: str, kind: str, param: str) -> FetchedMedia:
        import httpx

        chunks, size, first = [], 0, url
        try:
            with httpx.Client(timeout=self.policy.remote_timeout, follow_redirects=False) as client:
                for _ in range(self.policy.max_redirects + 1):
                    self.policy.check_url(url, param)  # every hop: a redirect may point anywhere
                    with client.stream("GET", url) as response:
                        if response.next_request is not None:  # a redirect: httpx built the next hop
                            url = str(response.next_request.url)
                            continue
                        if response.status_code != 200:
                            raise bad_request(f"{param}: fetching {_short(url)} gave HTTP {response.status_code}",
                                              param, "media_fetch_failed")
                        mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
                        for chunk in response.iter_bytes():
                            size += len(chunk)
                            self._check_size(size, param)
                            chunks.append(chunk)
                        break
                else:
                    raise bad_request(f"{param}: fetching {_short(first)} redirected more than "
                                      f"{self.policy.max_redirects} times", param, "media_fetch_failed")
        except httpx.TimeoutException:
            raise APIError(408, f"{param}: fetching {_short(url)} took longer than {self.policy.remote_timeout:g} s",
                           param=param, code="media_fetch_timeout") from None
        except httpx.HTTPError as error:
            raise bad_request(f"{param}: can't fetch {_short(url)} ({error})", param, "media_fetch_failed") from None
        suffix = Path(urllib.parse.urlsplit(url).path).suffix or _suffix_for(mime, kind)
        return self._store(b"".join(chunks), suffix, kind, param)

    # --- checks --------------------------------------------------------------------------------
    def _check_size(self, size: int, param: str) -> None:
        if size > self.policy.max_media_bytes:
            raise APIError(413, f"{param}: the media is {size / 2**20:.1f} MiB; the limit is "
                           f"{self.policy.max_media_bytes / 2**20:.1f} MiB per item (--max-media-bytes)",
                           param=param, code="media_too_large")

    def check(self, media: FetchedMedia) -> None:
        """Headers only: the stream the part needs is there, and size and length are in bounds."""
        from data_pipeline.media import probe

        self._check_size(media.path.stat().st_size, media.param)
        try:
            info = probe(media.path)
        except MediaError as error:
            raise bad_request(f"{media.param}: the {media.kind} can't be read: {error.reason}", media.param,
                              "invalid_media") from None
        media.duration, media.has_audio, media.has_video = info.duration, info.has_audio, info.has_video
        if media.kind in ("video", "image") and not info.has_video:
            raise bad_request(f"{media.param}: the file has no video or image stream", media.param, "invalid_media")
        if media.kind == "audio" and not info.has_audio:
            raise bad_request(f"{media.param}: the file has no audio track", media.param, "invalid_media")
        if info.duration > self.policy.max_media_seconds:
            raise APIError(413, f"{media.param}: the {media.kind} is {info.duration:.1f} s long; the limit is "
                           f"{self.policy.max_media_seconds:g} s (--max-media-seconds)", param=media.param,
                           code="media_too_long")


def _suffix_for(mime: str, kind: str) -> str:
    suffix = EXTRA_MIME_SUFFIXES.get(mime) or (mimetypes.guess_extension(mime) if mime else None)
    return suffix or DEFAULT_SUFFIX[kind]


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[:limit] + "..."
