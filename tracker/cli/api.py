"""`tracker api` and `tracker mcp`: the store for other tools and AI assistants."""

from __future__ import annotations

import click

from tracker.cli.context import Context, pass_context, single_blas_thread


@click.command()
@click.option("--host", help="Address to bind (default api.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default api.port, 8765).")
@pass_context
def api(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the HTTP JSON API (OpenAPI at /docs) until Ctrl-C.

    Binds 127.0.0.1 unless told otherwise; any other address needs TRACKER_API__TOKEN.
    Writes (tagging, accepting suggestions) need api.writes = true and the token.
    """
    from tracker.api.server import run_api

    single_blas_thread()
    settings = obj.settings
    run_api(obj.engine, settings, host or settings.api.host,
            settings.api.port if port is None else port, obj.reader)


@click.command()
@click.option("--http", "over_http", is_flag=True,
              help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")
@click.option("--host", help="Address to bind with --http (default api.host).")
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port with --http (default api.port + 1, 8766).")
@pass_context
def mcp(obj: Context, over_http: bool, host: str | None, port: int | None) -> None:
    """Serve the store to AI assistants over MCP (stdio by default).

    Tools: search, read, citations, list_claims, find_arguments, and tag_passage when
    api.writes is on. An MCP client starts `tracker mcp` itself. Claims and tags are the
    reader's (--user, TRACKER_USER); over --http a reader's token acts for that reader.
    """
    from tracker.api.server import check_start

    single_blas_thread()
    settings = obj.settings
    if not over_http:
        from tracker.api.mcp import run_stdio

        check_start(settings, settings.api.host)
        run_stdio(obj.engine, settings, obj.reader)
        return
    from tracker.api.mcp import http_app
    from tracker.api.server import uvicorn_server

    bind = host or settings.api.host
    check_start(settings, bind)
    where = settings.api.port + 1 if port is None else port
    app = http_app(obj.engine, settings, obj.reader)
    click.echo(f"tracker mcp on http://{bind}:{where}/mcp", err=True)
    uvicorn_server(app, settings, bind, where).run()
