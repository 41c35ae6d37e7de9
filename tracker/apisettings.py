"""Settings of `tracker api` and `tracker mcp`: the `[api]` section."""

from __future__ import annotations

from pydantic import Field, SecretStr

from tracker.section import Section

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ApiSettings(Section):
    """The local HTTP API and the MCP server (`tracker api`, `tracker mcp`, `tracker serve`)."""

    enabled: bool = False
    """Whether `tracker serve` also serves the HTTP API."""
    host: str = "127.0.0.1"
    """Address to bind; anything but loopback refuses to start without `token`."""
    port: int = Field(default=8765, ge=0, le=65535)
    """Port of the HTTP API (`tracker mcp --http` uses `port + 1` unless given one)."""
    token: SecretStr | None = None
    """Bearer token every request must carry when set; from TRACKER_API__TOKEN only, never
    from config.toml, never logged."""
    writes: bool = False
    """Allow tagging passages and accepting or rejecting suggestions (needs `token` too)."""
    cors_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call the API (CORS); none by default."""
    max_query_chars: int = Field(default=2000, ge=10, le=100_000)
    """Longest search query or quote accepted, in characters."""
    max_body_bytes: int = Field(default=64_000, ge=1024, le=16_000_000)
    """Largest request body (and query string) accepted, in bytes; larger ones get HTTP 413."""
    max_results: int = Field(default=50, ge=1, le=1000)
    """Most results one search or suggestion request returns."""

    def loopback(self, host: str | None = None) -> bool:
        """Whether `host` (default the configured one) is a loopback address."""
        return (host or self.host) in LOOPBACK
