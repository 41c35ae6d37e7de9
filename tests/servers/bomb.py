"""Gzip bombs over HTTP on 127.0.0.1: a small gzip body of zeros that decompresses to `size`.

Every GET or POST is answered HTTP 200 with `Content-Encoding: gzip` and the given content
type; the body is compressed once, streaming (never `size` bytes in memory: 1 GB of zeros is
about 1 MB of gzip). Run `python -m tests.servers.bomb --size 1000000000` to serve one from
another process: it prints its URL, then `ready`.
"""

from __future__ import annotations

import argparse
import sys
import zlib

from tests.servers.local import LocalServer, Reply, Request

_CHUNK = b"\0" * (1 << 20)


def gzip_zeros(size: int) -> bytes:
    """A gzip stream of `size` zero bytes, compressed chunk by chunk."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    parts, left = [], size
    while left > 0:
        chunk = _CHUNK if left >= len(_CHUNK) else _CHUNK[:left]
        parts.append(packer.compress(chunk))
        left -= len(chunk)
    parts.append(packer.flush())
    return b"".join(parts)


class BombServer(LocalServer):
    """Answers every request with the same gzip bomb."""

    def __init__(self, size: int, content_type: str = "application/json") -> None:
        super().__init__(self._handle)
        self.body = gzip_zeros(size)
        self.content_type = content_type

    def _handle(self, request: Request) -> Reply:
        return Reply(200, self.body, self.content_type, {"Content-Encoding": "gzip"})


def main(argv: list[str] | None = None) -> int:
    """Serve one bomb until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=float, default=1e9, help="decompressed bytes")
    parser.add_argument("--content-type", default="application/json")
    args = parser.parse_args(argv)
    with BombServer(int(args.size), args.content_type) as server:
        print(server.base, flush=True)
        print(f"compressed {len(server.body)}", flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main())
