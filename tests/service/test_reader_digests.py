"""`tracker serve`'s weekly digest job builds every registered reader's digest, each from their
own follows, into their own folder (the default reader's stays at the top of the folder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from tests.index.conftest import doc, put
from tracker import paths
from tracker.cli import cli
from tracker.config import load_settings
from tracker.service import scheduler
from tracker.service.digest import previous_week
from tracker.store.engine import make_engine


def _tracker(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output


def test_the_scheduled_digest_is_built_for_every_reader_from_their_own_follows() -> None:
    last_week = datetime.now(UTC) - timedelta(days=7)  # same weekday, the week just ended
    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    put(engine,
        doc("a1", "Proxies under pressure", "Goodhart bites.", author="Ada Lovelace",
            posted=last_week),
        doc("b1", "Careful specification", "Specify carefully.", author="Bo Brummell",
            posted=last_week),
        doc("c1", "Interpretability notes", "Circuits all the way.", author="Cy Twombly",
            posted=last_week))
    for name in ("alice", "bob"):
        _tracker("reader", "add", name)
    _tracker("--user", "alice", "follow", "author", "Ada Lovelace")
    _tracker("--user", "bob", "follow", "author", "Bo Brummell")
    _tracker("follow", "author", "Cy Twombly")

    with scheduler.job_context(engine, settings):
        scheduler.run_digest()  # what the job store calls, by name
    engine.dispose()

    week = previous_week(datetime.now(UTC), "UTC")
    folder = paths.data_dir() / "digests"
    texts = {name: (folder / sub / f"{week}.md").read_text(encoding="utf-8")
             for name, sub in (("default", ""), ("alice", "alice"), ("bob", "bob"))}
    assert all((folder / sub / f"{week}.html").exists() for sub in ("", "alice", "bob"))
    wanted = {"default": "Cy Twombly", "alice": "Ada Lovelace", "bob": "Bo Brummell"}
    for reader, author in wanted.items():
        assert f"Author: {author}" in texts[reader], texts[reader]
        for other in set(wanted.values()) - {author}:
            assert f"Author: {other}" not in texts[reader]
