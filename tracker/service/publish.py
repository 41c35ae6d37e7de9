"""Building, saving and mailing one week's digest: what `tracker digest` and `serve` run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.models import DEFAULT_READER
from tracker.service.digest import build_digest, record_digest
from tracker.service.render import Written, digest_dir, write_digest
from tracker.store.engine import session_scope

log = logging.getLogger(__name__)


@dataclass
class DigestOutcome:
    """What one digest build did."""

    week: str
    items: int
    written: Written
    mailed: bool = False
    tries: int = 0
    mail_error: str | None = None


def make_digest(engine: Engine, settings: Settings, week: str, *, out: Path | None,
                email: bool, data_dir: Path, reader: str = DEFAULT_READER) -> DigestOutcome:
    """Build `reader`'s digest of the week, record it, write the files and (with `email`) mail
    it. Another reader's files go to a folder of their own inside the digest folder.

    A failed send is retried (digest.smtp_retries) and reported in `mail_error`; the files
    are written first and kept regardless.
    """
    from tracker.service import render
    from tracker.service.mailer import MailError, build_message, check_mail_settings, send_message

    if email:
        check_mail_settings(settings.digest, connect=False)
    with session_scope(engine) as session:
        digest = build_digest(session=session, settings=settings.digest, week=week,
                              reader=reader)
        record_digest(session=session, digest=digest)
    folder = digest_dir(data_dir) if reader == DEFAULT_READER else digest_dir(data_dir) / reader
    written = write_digest(digest, out or folder)
    outcome = DigestOutcome(week, len(digest.item_ids), written)
    if email:
        message = build_message(settings.digest, digest.subject, render.markdown(digest),
                                render.html(digest))
        try:
            outcome.tries = send_message(settings.digest, message)
            outcome.mailed = True
        except MailError as e:
            outcome.mail_error = e.msg
            log.error("%s", e.msg)
    return outcome
