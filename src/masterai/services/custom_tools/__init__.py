"""Custom tools built on demand (services layer).

Entry points: :class:`CustomToolService` (tools, versions, test reports, activation),
:class:`CustomToolRunner` (the sandboxed runs; what the realtime monitors call),
:class:`CatalogService` with :class:`BundleSigner` (export/import bundles and the local
catalog), :class:`ToolSpec` (one version's definition) and the vocabularies. The ``registry``
tool adapts them (:mod:`masterai.tools.registry`).
"""

from masterai.services.custom_tools.bundles import BundleSigner, make_bundle, open_bundle
from masterai.services.custom_tools.catalog import CatalogService
from masterai.services.custom_tools.runner import (
    CustomToolRunner,
    RealtimeTool,
    RunOutcome,
    check_output,
    spec_of,
)
from masterai.services.custom_tools.service import (
    CustomToolService,
    code_diff,
    may_call,
    may_manage,
    report_of,
)
from masterai.services.custom_tools.spec import ToolSpec, check_name, content_hash
from masterai.services.custom_tools.vocab import (
    CATEGORY,
    LANGUAGES,
    BundleError,
    CustomToolAccessDenied,
    CustomToolNotFound,
    Origin,
    TestsFailing,
    ToolStatus,
    ToolTrigger,
)

__all__ = [
    "CATEGORY",
    "LANGUAGES",
    "BundleError",
    "BundleSigner",
    "CatalogService",
    "CustomToolAccessDenied",
    "CustomToolNotFound",
    "CustomToolRunner",
    "CustomToolService",
    "Origin",
    "RealtimeTool",
    "RunOutcome",
    "TestsFailing",
    "ToolSpec",
    "ToolStatus",
    "ToolTrigger",
    "check_name",
    "check_output",
    "code_diff",
    "content_hash",
    "make_bundle",
    "may_call",
    "may_manage",
    "open_bundle",
    "report_of",
    "spec_of",
]
