"""The ``aidev`` tool's retrieval part: index, search and re-embed a company's collections.

Operations ``index_documents``, ``list_collections``, ``search_similar`` and
``update_embeddings`` over
:class:`masterai.services.rag.RagService`.

A collection belongs to one company (``company_id``, declared ``COMPANY``: the registry checks
write access for indexing and re-embedding, read access for searching). Workspace files are
read as the caller, and only from that company's area, ``shared/`` or the caller's own
``users/`` folder, so another company's files never enter a collection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.security import ParameterRole, Principal
from masterai.security.workspace import Area, WorkspaceError, WorkspaceService
from masterai.services.aidev.datasets import DatasetService, Filters
from masterai.services.aidev.scrub import Scrubber
from masterai.services.errors import ConflictError, InvalidInputError, NotFoundError, ServiceError
from masterai.services.rag import (
    Embedder,
    RagService,
    SearchMode,
    SourceDocument,
    build_embedder,
    check_file_type,
    check_filters,
    collection_name,
    document_from_json,
    file_text,
)
from masterai.services.rag.conversations import conversation_documents
from masterai.tools.adapter import tool_result
from masterai.tools.files import principal_of, tool_error

if TYPE_CHECKING:
    from masterai.settings import Settings
    from masterai.store import Database

Handler = Callable[[AIToolCall, Any, AIToolAuthorizationCallback], Awaitable[AIToolResult]]
DEFAULT_TOP_K = 5

PARAMETERS = [
    AIToolParameter(
        "company_id", "string", "The company", required=False, role=ParameterRole.COMPANY
    ),
    AIToolParameter(
        "documents",
        "array",
        "Documents to index, each {id, text, metadata?}",
        required=False,
        items=AIToolParameter("document", "object", "{id, text, metadata?}"),
    ),
    AIToolParameter(
        "paths",
        "array",
        "Workspace files to index (txt, md, html, csv); each file's path is its document id",
        required=False,
        items=AIToolParameter("path", "string", "A workspace path"),
        role=ParameterRole.PATH,
    ),
    AIToolParameter(
        "collection", "string", "The company's collection (default 'default')", required=False
    ),
    AIToolParameter("query", "string", "What to search for", required=False),
    AIToolParameter(
        "top_k", "integer", "Most documents returned (1-100, default 5)", required=False
    ),
    AIToolParameter(
        "filters",
        "object",
        "Metadata filters {key: value or [values]} (strings, numbers, booleans)",
        required=False,
    ),
    AIToolParameter(
        "mode",
        "string",
        "hybrid (default: keyword and vector fused by reciprocal rank), vector or keyword",
        required=False,
        enum=[m.value for m in SearchMode],
    ),
    AIToolParameter(
        "model",
        "string",
        "Embedding model to re-embed with (default MASTERAI_RAG__EMBEDDING_MODEL)",
        required=False,
        role=ParameterRole.MODEL,
    ),
    AIToolParameter(
        "max_chunks",
        "integer",
        "Most chunks re-embedded by this call (default all; a later call resumes)",
        required=False,
    ),
    AIToolParameter(
        "add_conversations",
        "boolean",
        "Also index the company's conversations not in the collection yet (personal data scrubbed)",
        required=False,
    ),
]


def _error(error: ServiceError) -> Exception:
    if isinstance(error, InvalidInputError | NotFoundError | ConflictError):
        return AIToolValidationError(str(error))
    return AIToolExecutionError(str(error))


def _company(args: dict[str, Any]) -> str:
    company = args.get("company_id")
    if not isinstance(company, str) or not company:
        raise AIToolValidationError("company_id is required", "company_id")
    return company


class RagPart:
    """The retrieval operations of ``aidev``.

    Args:
        settings: the settings (``rag``, keys and egress for provider embeddings).
        service: the RAG service.
        workspace: the company-partitioned workspace files are read from.
    """

    model_operations: frozenset[str] = frozenset()

    def __init__(
        self,
        settings: Settings,
        service: RagService,
        workspace: WorkspaceService,
        database: Database,
    ) -> None:
        self._settings = settings
        self.service = service
        self._workspace = workspace
        self._database = database

    def parameters(self) -> list[AIToolParameter]:
        """The part's parameters, each declaring its role where it has one."""
        return list(PARAMETERS)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """``index_documents``, ``list_collections``, ``search_similar``, ``update_embeddings``."""

        def op(name: str, handler: Handler, allowed: set[str], text: str, **kw: Any) -> None:
            ops[name] = AIToolOperationDefinition(
                name, handler, _context, allowed, {"company_id"}, text, **kw
            )

        ops: dict[str, AIToolOperationDefinition] = {}
        op(
            "index_documents",
            self._index,
            {"company_id", "documents", "paths", "collection"},
            "Chunk, embed and store documents (or workspace files) in a company's "
            "collection; unchanged documents are skipped",
            idempotent=True,
        )
        op(
            "list_collections",
            self._collections,
            {"company_id"},
            "A company's collections: embedding model, document and chunk counts",
            read_only=True,
        )
        op(
            "search_similar",
            self._search,
            {"company_id", "query", "collection", "top_k", "filters", "mode"},
            "Search a company's collection: keyword (BM25), vector or hybrid (reciprocal "
            "rank fusion), with metadata filters; hits have the document id, score, snippet",
            read_only=True,
        )
        op(
            "update_embeddings",
            self._update,
            {"company_id", "collection", "model", "max_chunks", "add_conversations"},
            "Re-embed a company's collection with another embedding model, and add the "
            "company's new conversations (resumable)",
            idempotent=True,
        )
        return ops

    def _embedder(self, spec: str | None, ref: Any) -> Embedder:
        hosts = None
        if spec is not None and isinstance(ref, Principal):
            hosts = ref.permissions.integrations.allowed_domains
        try:
            return build_embedder(self._settings, spec, allowed_hosts=hosts)
        except ServiceError as e:
            raise _error(e) from e

    async def _run(self, embedder: Embedder, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        try:
            return await work
        except ServiceError as e:
            raise _error(e) from e
        finally:
            await embedder.aclose()

    # --- operations ----------------------------------------------------------------------

    async def _update_and_add(
        self, company: str, args: dict[str, Any], embedder: Embedder
    ) -> dict[str, Any]:
        collection = collection_name(args.get("collection"))
        with_conversations = args.get("add_conversations") is True
        exists = await asyncio.to_thread(self.service.store.collection, company, collection)
        if exists is None and with_conversations:
            result: dict[str, Any] = {"collection": collection, "model": embedder.model_id}
            result |= {"embedded": 0, "remaining": 0, "complete": True, "switched": False}
        else:
            result = await self.service.update_embeddings(
                company,
                collection=collection,
                embedder=embedder,
                max_chunks=args.get("max_chunks"),
            )
        if not with_conversations:
            return result
        if not result["complete"]:
            waiting = "Conversations are added once the re-embedding is complete."
            return {**result, "conversations": {"waiting": waiting}}
        stored = await asyncio.to_thread(
            DatasetService(self._database, self._workspace).stored, company, Filters()
        )
        scrubber = Scrubber()
        added = await self.service.add_new(
            company,
            conversation_documents(stored, scrubber),
            collection=collection,
            embedder=embedder,
        )
        scrubbed = sum(scrubber.report().values())
        return {**result, "conversations": {**added, "scrubbed": scrubbed}}

    async def _index(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        company = _company(args)
        documents = await self._documents(args, company, ref)
        embedder = self._embedder(None, ref)
        result = await self._run(
            embedder,
            self.service.index(
                company, documents, collection=args.get("collection"), embedder=embedder
            ),
        )
        summary = (
            f"Indexed {result['indexed']} of {result['documents']} documents "
            f"({result['chunks']} chunks, {result['unchanged']} unchanged) into "
            f"{company}/{result['collection']} with {result['model']}."
        )
        return tool_result(call, summary, result)

    async def _documents(
        self, args: dict[str, Any], company: str, ref: Any
    ) -> list[SourceDocument]:
        given, paths = args.get("documents"), args.get("paths")
        if (given is None) == (paths is None):
            raise AIToolValidationError("give either documents or paths (not both)", "documents")
        if given is not None:
            try:
                return [document_from_json(d, i) for i, d in enumerate(given)]
            except InvalidInputError as e:
                raise AIToolValidationError(str(e), "documents") from e
        principal = principal_of(ref)
        assert paths is not None  # one of the two is given (checked above)
        if len(paths) > self._settings.rag.max_documents:
            raise AIToolValidationError(
                f"{len(paths)} paths; at most {self._settings.rag.max_documents}", "paths"
            )
        return [await self._file(principal, company, p, i) for i, p in enumerate(paths)]

    async def _file(self, principal: Principal, company: str, path: Any, i: int) -> SourceDocument:
        key = f"paths[{i}]"
        try:
            parsed = self._workspace.parse(path, key=key)
            if parsed.area is Area.COMPANIES and parsed.owner != company:
                raise AIToolAuthorizationDenied(
                    f"{key}: {parsed.text!r} belongs to company {parsed.owner!r}; a collection "
                    f"of {company!r} takes files of companies/{company}/, shared/ or your "
                    "users/ folder"
                )
            check_file_type(parsed.text)
            data = await asyncio.to_thread(
                self._workspace.read_bytes,
                principal,
                parsed.text,
                max_bytes=self._settings.rag.max_file_bytes,
                key=key,
            )
        except WorkspaceError as e:
            raise tool_error(e) from e
        except InvalidInputError as e:
            raise AIToolValidationError(str(e), key) from e
        try:
            text = file_text(parsed.text, data)
        except InvalidInputError as e:
            raise AIToolValidationError(str(e), key) from e
        return SourceDocument(
            id=parsed.text, text=text, metadata={"path": parsed.text}, source=parsed.text
        )

    async def _collections(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        company = _company(call.arguments)
        rows = await asyncio.to_thread(self.service.collections, company)
        lines = [
            f"{c['name']}: {c['documents']} documents, {c['chunks']} chunks ({c['model']})"
            for c in rows
        ]
        summary = "\n".join(lines) or f"{company} has no collections"
        return tool_result(call, summary, {"company_id": company, "collections": rows})

    async def _search(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        company = _company(args)
        query = args.get("query")
        if not isinstance(query, str):
            raise AIToolValidationError("query is required", "query")
        try:
            filters = check_filters(args.get("filters"))
        except InvalidInputError as e:
            raise AIToolValidationError(str(e), "filters") from e
        embedder = self._embedder(None, ref)
        result = await self._run(
            embedder,
            self.service.search(
                company,
                query,
                collection=args.get("collection"),
                top_k=args.get("top_k", DEFAULT_TOP_K),
                filters=filters,
                mode=SearchMode(args.get("mode", SearchMode.HYBRID.value)),
                embedder=embedder,
            ),
        )
        lines = [f"{h['id']} ({h['score']}): {h['snippet'][:120]}" for h in result["hits"]]
        summary = "\n".join(lines) or f"No match in {company}/{result['collection']}."
        return tool_result(call, summary, result)

    async def _update(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        company = _company(args)
        embedder = self._embedder(args.get("model"), ref)
        result = await self._run(embedder, self._update_and_add(company, args, embedder))
        if result["complete"]:
            summary = (
                f"{company}/{result['collection']} now uses {result['model']} "
                f"({result['embedded']} chunks re-embedded)."
            )
        else:
            summary = (
                f"Re-embedded {result['embedded']} chunks of {company}/{result['collection']} "
                f"with {result['model']}; {result['remaining']} remain (call again to resume)."
            )
        return tool_result(call, summary + _summary_of_conversations(result), result)


def _summary_of_conversations(result: dict[str, Any]) -> str:
    added = result.get("conversations")
    if added is None:
        return ""
    if "waiting" in added:
        return f" {added['waiting']}"
    return (
        f" {added['added']} new conversation(s) indexed ({added['already_indexed']} already "
        f"there; {added['scrubbed']} personal data item(s) scrubbed)."
    )


def _context(args: dict[str, Any]) -> str | None:
    company, collection = args.get("company_id"), args.get("collection") or "default"
    return f"{company}/{collection}" if company else None


def build(settings: Settings, database: Database, service: RagService | None = None) -> RagPart:
    """The retrieval part of ``aidev`` over ``database`` (``service``: one shared with others)."""
    return RagPart(
        settings,
        service or RagService.from_settings(settings, database),
        WorkspaceService(settings.workspace),
        database,
    )
