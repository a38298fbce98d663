"""The one settings object of Master AI (pydantic-settings, env prefix ``MASTERAI_``).

With nothing set, everything lives under ``MASTERAI_HOME`` (default ``./.masterai``): the
SQLite database, workspace files and logs. Nested sections are set with a double underscore,
for example ``MASTERAI_SANDBOX__DEFAULT_TIMEOUT=10``.

Each layer owns one section class here; lower layers import only their own section.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseModel):
    """Code execution limits and backend choice (owned by ``masterai.sandbox``).

    ``default_*`` apply when a request names no value; ``max_*`` are the ceilings a request may
    ask for. Sizes are bytes. See ``docs/sandbox.md``.
    """

    backend: str = "bubblewrap"
    """``bubblewrap`` (default on Linux) or ``docker``."""

    default_timeout: float = Field(default=30.0, gt=0)
    """Wall-clock seconds a program may run."""
    max_timeout: float = Field(default=300.0, gt=0)
    default_memory: int = Field(default=512 * 1024**2, gt=0)
    """Memory (RAM + swap) of all processes of one run together."""
    max_memory: int = Field(default=4 * 1024**3, gt=0)
    default_cpus: float = Field(default=0.5, gt=0)
    """CPU quota in cores (0.5 = half of one core)."""
    max_cpus: float = Field(default=2.0, gt=0)
    default_storage: int = Field(default=100 * 1024**2, gt=0)
    """Size of the run's temporary working directory."""
    max_storage: int = Field(default=1024**3, gt=0)
    default_pids: int = Field(default=64, gt=0)
    """Processes and threads of one run together."""
    max_pids: int = Field(default=1024, gt=0)
    default_output_limit: int = Field(default=1024**2, gt=0)
    """Bytes kept per output stream (stdout, stderr); the rest is dropped and flagged."""
    max_output_limit: int = Field(default=16 * 1024**2, gt=0)
    max_output_files: int = Field(default=32, gt=0)
    """Output files collected from the working directory; more are ignored and flagged."""
    max_output_file_size: int = Field(default=10 * 1024**2, gt=0)
    """Bytes per output file; larger files are skipped and flagged."""
    max_concurrent: int = Field(default=2, gt=0)
    """Executions running at once; further requests wait in order."""
    queue_size: int = Field(default=64, ge=0)
    """Requests that may wait; one more is refused with ``QueueFullError``."""
    runtime_dir: Path | None = None
    """Sandbox runtimes (``scripts/setup-sandbox``); default ``<repository>/sandbox/runtime``."""
    run_dir: Path = Path("/tmp/masterai-sandbox")
    """Host directory holding each run's code and working directory while it runs."""
    sandbox_uid: int = Field(default=65534, ge=1)
    """Unprivileged user (and group) programs run as; default ``nobody``."""
    warm_python: int = Field(default=2, ge=0)
    """Python interpreters the bubblewrap backend keeps started ahead, each in a sandbox of its
    own with numpy, pandas and matplotlib imported, one per run; 0 turns the warm path off."""
    warm_python_wait: float = Field(default=0.0, ge=0)
    """Seconds a Python run waits for a warm interpreter still importing (on either backend)
    before it starts cold (0: it takes one only if one is ready)."""
    warm_node: int = Field(default=2, ge=0)
    """Node.js processes the bubblewrap backend keeps started ahead for each of JavaScript and
    TypeScript (with its compiler loaded), each in a sandbox of its own, one per run; 0 turns
    the warm path off for both."""
    warm_containers: int = Field(default=2, ge=0)
    """Containers the Docker backend starts ahead for each language in use (Python's with the
    warm interpreter), one per run at the default limits; 0 turns the pool off."""
    cgroup_parent: str = "masterai-sandbox"
    """Name of the cgroup under which each run gets its own (bubblewrap backend)."""
    image_prefix: str = "masterai-sandbox"
    """Docker images are named ``<prefix>-<language>:latest``."""
    session_dir: Path | None = None
    """Persistent sandbox sessions (``session`` of the code tool); default ``sessions/``
    beside the workspace (``<home>/sessions``)."""
    session_quota: int = Field(default=50 * 1024**2, gt=0)
    """Bytes one session may keep; a run leaving more is not saved."""
    session_ttl: float = Field(default=7 * 24 * 3600.0, gt=0)
    """Seconds a session is kept after its last use."""
    max_sessions: int = Field(default=20, gt=0)
    """Sessions one principal may have at once."""


class ModelPrice(BaseModel):
    """Price of one model in USD per million tokens (owned by ``masterai.llm``)."""

    input_per_mtok: float = Field(ge=0)
    """USD per million input (prompt) tokens."""
    output_per_mtok: float = Field(ge=0)
    """USD per million output (completion) tokens."""


_LIST_PRICES = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "claude-3-5-haiku-latest": (0.80, 4.00),
    "claude-3-5-sonnet-latest": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-opus-4-5": (5.00, 25.00),
}
"""List prices (USD per million input, output tokens) at the time of writing."""


def _list_prices() -> dict[str, ModelPrice]:
    """A fresh copy of the list prices, the default of both price tables.

    Master AI's own model calls (``MASTERAI_LLM__PRICES``) and the pricing of customers'
    conversations (``MASTERAI_ANALYTICS__PRICES``) are overridden separately.
    """
    return {
        k: ModelPrice(input_per_mtok=i, output_per_mtok=o) for k, (i, o) in _LIST_PRICES.items()
    }


class LLMSettings(BaseModel):
    """Language-model provider selection and call policy (owned by ``masterai.llm``)."""

    model: str | None = None
    """``provider:model[@base_url]``, e.g. ``openai:gpt-4o-mini`` (``MASTERAI_LLM__MODEL``)."""
    api_key: SecretStr | None = None
    """Key for the selected provider; default: ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds for one HTTP request to the provider."""
    max_retries: int = Field(default=3, ge=0, le=10)
    """Retries on rate limits (429), overload and 5xx, with exponential backoff."""
    retry_base_delay: float = Field(default=0.5, ge=0)
    """First backoff delay in seconds (doubled each retry, jittered, capped at 8 s)."""
    max_output_tokens: int = Field(default=2048, gt=0)
    """Upper bound of output tokens per call (Anthropic requires one)."""
    prices: dict[str, ModelPrice] = Field(default_factory=_list_prices)
    """Price table keyed by model name (or ``provider:model``); unknown models cost ``None``."""
    scripted_dir: Path | None = None
    """The only directory ``scripted:`` model specs are read from (tests, demos); unset: no
    scripted models."""


class AgentSettings(BaseModel):
    """Budgets and approval policy of the Master AI agent (owned by ``masterai.agent``)."""

    auto_approve_read_only: bool = False
    """Run plans whose steps are all read-only without asking (mutating steps always ask)."""
    max_steps: int = Field(default=20, ge=1, le=200)
    """Most tool steps one turn may execute (re-plans included)."""
    max_tokens: int = Field(default=200_000, ge=1)
    """Most model tokens (input + output) one turn may spend."""
    max_cost_usd: float = Field(default=1.0, ge=0)
    """Most USD one turn may spend on model calls."""
    max_seconds: float = Field(default=600.0, gt=0)
    """Wall-clock limit of one turn."""
    max_replans: int = Field(default=2, ge=0, le=10)
    """How often a failed step may lead to a new plan before the agent stops."""


class AnalyticsSettings(BaseModel):
    """Price table and thresholds of conversation analytics (owned by ``masterai.services``)."""

    prices: dict[str, ModelPrice] = Field(default_factory=_list_prices)
    """USD per million tokens by model name, used by ``analyze_costs`` to price token usage
    (``MASTERAI_ANALYTICS__PRICES='{"my-model": {"input_per_mtok": 1, "output_per_mtok": 2}}'``)."""
    slow_response_ms: int = Field(default=5000, ge=1)
    """An assistant answer slower than this counts as a slow response (a failure)."""
    low_satisfaction_max: int = Field(default=2, ge=1, le=5)
    """Ratings at or below this count as low satisfaction."""
    examples_per_group: int = Field(default=3, ge=0, le=50)
    """Example conversations shown per failure group or pattern."""
    cache_dir: Path | None = None
    """Where the columnar (DuckDB) analytics copy lives; default ``<home>/analytics``."""


class RegistrySettings(BaseModel):
    """Limits of the tool registry and the audit trail (owned by ``masterai.registry``)."""

    default_timeout: float = Field(default=60.0, gt=0)
    """Seconds a tool call may run when neither the operation nor the tool sets a limit."""
    max_params_bytes: int = Field(default=256 * 1024, gt=0)
    """Largest accepted arguments (JSON-encoded); bigger calls are rejected as invalid."""
    audit_params_bytes: int = Field(default=16 * 1024, gt=0)
    """Redacted arguments larger than this are stored in the audit log as a preview."""
    local_admin: str = "admin"
    """Name of the super admin ``masterai init`` creates; the CLI acts as it by default."""


class EgressSettings(BaseModel):
    """Outbound HTTP to destinations chosen in a call (owned by ``masterai.security.egress``)."""

    allowed_networks: list[str] = Field(default_factory=list)
    """CIDRs reachable although private, loopback or link-local (``["127.0.0.1/32"]``);
    ``MASTERAI_EGRESS__ALLOWED_NETWORKS`` as a JSON list."""
    allowed_ports: list[int] = Field(default_factory=lambda: [80, 443, 8080, 8443])
    """Destination ports a call may reach (ports of allowed networks are not limited)."""
    max_redirects: int = Field(default=5, ge=0, le=20)
    """Redirects followed per request; every hop is checked again."""
    max_response_bytes: int = Field(default=10 * 1024**2, gt=0)
    """Largest response body read."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds for one request (connect, each read, total)."""


class NamedApi(BaseModel):
    """An external API named in settings: ``make_api_call`` reaches it as ``NAME/path``.

    Its base URL and credential headers stay on the server; callers see only the name.
    """

    base_url: str
    """``https://api.example.com/v1``; requests go to this origin and below this path."""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Headers sent with every request (``{"Authorization": "Bearer ..."}``), never shown."""


class IntegrationsSettings(BaseModel):
    """Databases, named APIs and limits of integrations and webhook delivery.

    Owned by ``masterai.services.integrations`` and ``masterai.events``.
    """

    connections: dict[str, SecretStr] = Field(default_factory=dict)
    """Database connections by name: SQLAlchemy URLs (PostgreSQL, MySQL/MariaDB, SQLite);
    ``MASTERAI_INTEGRATIONS__CONNECTIONS='{"crm": "postgresql://ro@db/crm"}'``."""
    apis: dict[str, NamedApi] = Field(default_factory=dict)
    """Named APIs (``MASTERAI_INTEGRATIONS__APIS`` as a JSON object)."""
    max_rows: int = Field(default=1000, ge=1, le=100_000)
    """Most rows ``query_database`` returns, whatever a call asks for."""
    default_rows: int = Field(default=100, ge=1)
    """Rows returned when a call names no ``max_rows``."""
    statement_timeout: float = Field(default=10.0, gt=0)
    """Seconds one database statement may run before the server cancels it."""
    api_retries: int = Field(default=2, ge=0, le=10)
    """Retries of an idempotent API call after a network error, 429 or 502-504."""
    api_retry_base: float = Field(default=0.5, ge=0)
    """Seconds before the first API retry; doubled each retry, plus up to as much jitter."""
    response_preview_bytes: int = Field(default=65_536, gt=0)
    """Bytes of a response body returned by ``call_webhook`` and ``make_api_call``."""
    csv_memory_limit: str = "512MB"
    """DuckDB's memory limit for ``process_csv``; larger data spills to a temporary directory."""
    csv_preview_rows: int = Field(default=20, ge=0, le=1000)
    """Rows of a ``process_csv`` result shown in the preview."""
    webhook_max_attempts: int = Field(default=6, ge=1, le=50)
    """Delivery attempts of one event to one webhook before it is dead-lettered."""
    webhook_retry_base: float = Field(default=10.0, ge=0)
    """Seconds before the first retry; doubled each attempt, jittered."""
    webhook_retry_cap: float = Field(default=3600.0, ge=0)
    """Longest wait between two attempts."""
    dispatch_interval: float = Field(default=2.0, gt=0)
    """Seconds the dispatcher sleeps when nothing is due."""
    dispatch: bool = True
    """Run the dispatcher in ``masterai serve`` (each worker process; they share the work)."""


class EmailSettings(BaseModel):
    """The SMTP server ``send_email`` uses (owned by ``masterai.services.integrations``)."""

    smtp_host: str | None = None
    """Unset: e-mail is not configured (``dry_run`` still renders messages)."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    sender: str | None = None
    """The ``From`` address of every message."""
    starttls: bool = True
    """Upgrade the connection with STARTTLS (refused if the server does not offer it)."""
    use_tls: bool = False
    """Connect with TLS from the start (port 465) instead of STARTTLS."""
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    """CA bundle that signs the server's certificate (default: the system trust store)."""
    timeout: float = Field(default=30.0, gt=0)
    max_attachment_bytes: int = Field(default=10 * 1024**2, gt=0)
    """Largest total size of a message's attachments."""


class AuditSettings(BaseModel):
    """The audit chain's key and checkpoints (owned by ``masterai.audit``)."""

    key: SecretStr | None = None
    """HMAC key of the chain (``MASTERAI_AUDIT__KEY``, e.g. from a secret manager); default:
    the key file."""
    key_file: Path | None = None
    """Where ``masterai init`` keeps the key (mode 0600); default ``<home>/audit.key``."""
    checkpoint_file: Path | None = None
    """Signed head of the chain, written as records are appended; default
    ``<home>/audit.checkpoint``."""


class ApiSettings(BaseModel):
    """The HTTP API and web console of ``masterai serve`` (owned by ``masterai.api``)."""

    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses (or CIDRs) of reverse proxies whose ``X-Forwarded-For`` is believed; the
    audit's client address is otherwise the TCP peer."""
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    """Largest request body; bigger ones are refused with 413 (and audited)."""
    session_hours: float = Field(default=12.0, gt=0)
    """How long a console session lasts without activity."""
    login_attempts_per_minute: int = Field(default=10, ge=1)
    """Failed console logins allowed per client address per minute."""
    secure_cookies: bool = False
    """Mark cookies ``Secure`` (set it when the console is served over TLS)."""


class JobsSettings(BaseModel):
    """The scheduler and the workers that run scripts (owned by ``masterai.jobs``)."""

    scheduler: bool = True
    """Run the scheduler and an in-process worker pool in ``masterai serve``."""
    workers: int = Field(default=2, ge=1, le=64)
    """Runs one process executes at the same time."""
    queue: str | None = None
    """``redis://host:port/db``: a Redis job queue (SAQ) shared by ``masterai worker``
    processes; unset, runs are queued in-process."""
    queue_name: str = "masterai-runs"
    """The name of the Redis queue (one per platform sharing a Redis server); code
    executions use ``<queue_name>-exec``."""
    queue_executions: bool = True
    """With ``queue`` set, send the ``code`` tool's ``execute_code`` and ``transform_data``
    runs (those without a ``session``) to the fleet; ``masterai worker`` runs its own locally."""
    tick: float = Field(default=5.0, gt=0)
    """Seconds between two scheduler passes."""
    lease_seconds: float = Field(default=30.0, gt=0)
    """How long the scheduler's lease lasts unless renewed (a stopped leader is replaced
    after it)."""
    heartbeat: float = Field(default=2.0, gt=0)
    """Seconds between two heartbeats of a running script (also how fast a cancel lands)."""
    stale_after: float = Field(default=30.0, gt=0)
    """A running script whose worker has not beaten for this long is taken as lost."""
    max_attempts: int = Field(default=3, ge=1, le=20)
    """Attempts of a run whose workers die before it is failed."""
    output_chars: int = Field(default=65_536, ge=1024)
    """Characters of stdout and of stderr kept in a run record."""
    run_timeout: float = Field(default=3600.0, gt=0)
    """Longest a ``run_script`` call may last, all attempts of a tool script included."""


class RagSettings(BaseModel):
    """Retrieval over companies' documents (owned by ``masterai.services.rag``)."""

    embedding_model: str = "local:hashing"
    """``local:hashing`` (offline, deterministic, lexical; the default: fast enough to index
    thousands of chunks in tests), ``local:all-MiniLM-L6-v2`` (offline, semantic; the model
    wheel of ``requirements/models.txt``, some 300 times slower) or a provider's embeddings
    as ``provider:model[@base_url]``, e.g. ``openai:text-embedding-3-small``."""
    dimension: int = Field(default=256, ge=16, le=4096)
    """Vector size of the ``local:hashing`` embedder."""
    chunk_tokens: int = Field(default=200, ge=16, le=8192)
    """Tokens (words and punctuation marks) per chunk."""
    chunk_overlap: int = Field(default=40, ge=0, le=4096)
    """Tokens a chunk shares with the one before it."""
    batch_size: int = Field(default=64, ge=1, le=2048)
    """Texts sent to the embedder per request."""
    max_documents: int = Field(default=10_000, ge=1)
    """Most documents (or files) one ``index_documents`` call takes."""
    max_file_bytes: int = Field(default=10 * 1024**2, gt=0)
    """Largest workspace file indexed."""
    exact_search_max_chunks: int = Field(default=20_000, ge=0)
    """Collections up to this many chunks are searched exactly (numpy); larger ones through
    an approximate HNSW index (usearch), built once and kept in step with every write."""
    index_dir: Path | None = None
    """Where the approximate indexes are saved; default ``<home>/rag``."""
    background_index_build: bool = True
    """Build a missing approximate index in a background thread (searches stay exact until
    it is ready); ``false``: the search that needs it waits for the build."""


class AIDevSettings(BaseModel):
    """AI development: fine-tune jobs (``aidev`` tool, ``masterai finetune``)."""

    fine_tune_tracker: bool = True
    """Poll unfinished fine-tune jobs in the background (``masterai serve``/``worker``)."""
    fine_tune_poll_seconds: float = Field(default=60.0, gt=0)
    """How often unfinished jobs are polled."""
    training_prices: dict[str, float] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": 3.0,
            "gpt-4o": 25.0,
            "gpt-4.1-nano": 1.5,
            "gpt-4.1-mini": 5.0,
            "gpt-4.1": 25.0,
            "gpt-3.5-turbo": 8.0,
        }
    )
    """USD per million trained tokens by model-name prefix (the longest match wins)."""


class MonitorSettings(BaseModel):
    """Realtime monitors, alerts and threat detection (docs/alerts.md)."""

    enabled: bool = True
    """Queue ingested messages for the monitors and run the monitor loop in the background
    (``masterai serve``/``worker``)."""
    batch_size: int = Field(default=200, gt=0, le=10_000)
    """Messages (and audit records) one round of the monitor loop takes."""
    poll_seconds: float = Field(default=1.0, gt=0)
    """Pause of the loop when nothing is waiting."""
    lease_seconds: float = Field(default=300.0, gt=0)
    """How long a claimed batch is kept from other loops (a crashed loop's batch is taken
    again after it)."""
    denied_burst: int = Field(default=5, gt=0)
    """Denied calls of one principal within ``denied_window_seconds`` that raise an alert."""
    denied_window_seconds: float = Field(default=300.0, gt=0)
    """The window of ``denied_burst``; also how long a repeated finding is not raised again."""
    profile_min_calls: int = Field(default=20, ge=0)
    """Calls a principal must have made before a new client address or an unusual hour
    is reported (a new principal has no habits yet)."""
    unusual_hour_share: float = Field(default=0.01, ge=0, le=1)
    """An hour of day (UTC) in which a principal made at most this share of its calls (the
    hour and its neighbours) is unusual."""
    injection_markers: list[str] = Field(
        default_factory=lambda: [
            "ignore previous instructions",
            "ignore all previous instructions",
            "ignore the above instructions",
            "disregard previous instructions",
            "disregard your instructions",
            "you are now in developer mode",
            "reveal your system prompt",
            "new instructions:",
            "<|im_start|>",
            "[system]",
        ]
    )
    """Phrases (matched case-insensitively) that mark prompt injection in tool results."""


class CustomToolSettings(BaseModel):
    """Custom tools on demand (``masterai.services.custom_tools``; docs/custom-tools.md)."""

    refresh_ms: int = Field(default=250, ge=0)
    """How often (at most) a process checks the store for activated or disabled custom tools
    before a registry lookup; ``0`` checks on every call."""
    trusted_keys: list[str] = Field(default_factory=list)
    """Public keys (hex) of other instances whose exported bundles this one imports."""


class McpSettings(BaseModel):
    """The MCP server: ``masterai mcp`` (stdio) and ``/mcp`` on ``masterai serve``."""

    resource_url: str | None = None
    """Public URL of the ``/mcp`` endpoint, named in the protected-resource metadata and in
    401 answers (``masterai serve`` sets it from ``--host``/``--port`` when unset)."""
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    )
    """``Host`` headers ``/mcp`` answers (DNS-rebinding protection); ``name:*`` for any
    port. Add the public host name when serving beyond loopback."""
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    )
    """``Origin`` headers ``/mcp`` accepts from browsers (requests without one pass)."""
    watch_seconds: float = Field(default=2.0, gt=0)
    """How often a connected caller's tool set is compared with what it was last shown
    (a changed one is announced with ``notifications/tools/list_changed``)."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    """Largest ``/mcp`` request body."""


class Settings(BaseSettings):
    """All Master AI settings, read from the environment (``MASTERAI_*``) and a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="MASTERAI_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    home: Path = Path(".masterai")
    """Root of all local state: database, workspace, logs."""

    database_url: str | None = None
    """SQLAlchemy URL; default is SQLite (WAL) at ``<home>/masterai.db``."""

    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    model: str | None = None
    """Shortcut for ``llm.model``: ``MASTERAI_MODEL=openai:gpt-4o-mini``."""
    agent: AgentSettings = Field(default_factory=AgentSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    egress: EgressSettings = Field(default_factory=EgressSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    integrations: IntegrationsSettings = Field(default_factory=IntegrationsSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    aidev: AIDevSettings = Field(default_factory=AIDevSettings)
    monitors: MonitorSettings = Field(default_factory=MonitorSettings)
    custom_tools: CustomToolSettings = Field(default_factory=CustomToolSettings)

    @property
    def workspace(self) -> Path:
        """Directory the filesystem tool and reports are confined to."""
        return self.home / "workspace"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: ``database_url`` or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'masterai.db').resolve()}"
