"""Offline JSON-LD: vendored contexts, a document loader that never fetches, safe expansion and
RDFC-1.0 canonicalization on top of pyld.

Three things pyld 3.3 does not do for us, each handled here:

* **No safe mode.** An undefined term (a typo such as ``achievment``) or a relative IRI is
  silently dropped from the RDF dataset, so it would be left unsigned. :func:`expand_safe`
  expands with a sentinel ``@vocab`` appended to the document's contexts: every term that no
  context defines then expands to a sentinel IRI, which we find and reject by name.
* **Old N-Quads escaping.** pyld escapes only ``\\ " \\t \\n \\r`` in literals. RDFC-1.0 (and
  rdf-canonize 4+, which the JavaScript verifiers use) also writes ``\\b`` and ``\\f`` and every
  other character in U+0000-U+001F and U+007F as ``\\uXXXX``. We run pyld's own URDNA2015 code
  with a compliant serializer bound in place of its module-level one, without patching pyld.
* **Context processing on every call.** pyld only shares processed contexts between calls when
  the loader tags a document as static and a resolver cache is passed; we do both, with our own
  bounded cache so nothing outside this module can poison it. Even then pyld re-processes every
  type-scoped context (OB 3.0 has one per class) for every node; :class:`_Processor` fixes
  that. Together with skipping pyld's second expansion inside ``to_rdf`` this makes signing
  about three times faster (bench/bench_signing.py).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pyld import jsonld as _pyld
from pyld.canon import URDNA2015 as _URDNA2015
from pyld.context_resolver import ContextResolver
from pyld.identifier_issuer import IdentifierIssuer
from pyld.resolved_context import ResolvedContext

from .errors import CredentialShapeError, DocumentLoaderError
from .fields import ABSOLUTE_IRI as _ABSOLUTE_IRI

# pyld's private members this module extends, with the parameters it relies on. pyproject.toml
# holds pyld to the releases they were written for; check_pyld() refuses any other at import.
PYLD_WRITTEN_FOR = "3.3."
_PYLD_INTERNALS: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (
        _pyld.JsonLdProcessor,
        "_process_context",
        ("active_ctx", "local_ctx", "options", "override_protected", "propagate"),
    ),
    (_pyld.JsonLdProcessor, "_clone_active_context", ("active_ctx",)),
    (_pyld.JsonLdProcessor, "_create_node_map", ("input_", "graph_map", "active_graph")),
    (_pyld.JsonLdProcessor, "_graph_to_rdf", ("graph", "issuer", "options")),
    (_pyld.JsonLdProcessor, "__init__", ("on_property_dropped",)),
    (ContextResolver, "_get", ("key",)),
    (ContextResolver, "_cache_resolved_context", ("key", "resolved", "tag")),
)


def check_pyld(version: str | None = None) -> None:
    """Refuse a pyld this module was not written for, naming what differs (raises ImportError)."""
    version = version or metadata.version("pyld")
    if not version.startswith(PYLD_WRITTEN_FOR):
        raise ImportError(
            f"credentials.jsonld extends pyld {PYLD_WRITTEN_FOR}x internals; pyld {version} is "
            "installed. Check _Processor, _Resolver and _dataset against it, then update "
            "PYLD_WRITTEN_FOR and pyproject.toml."
        )
    for owner, name, params in _PYLD_INTERNALS:
        member = getattr(owner, name, None)
        found = set(inspect.signature(member).parameters) if callable(member) else set()
        missing = [p for p in params if p not in found]
        if member is None or missing:
            raise ImportError(
                f"pyld {version} changed {owner.__name__}.{name}: "
                f"{'it is gone' if member is None else 'no parameter ' + ', '.join(missing)}"
            )


check_pyld()

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_V3_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
DATA_INTEGRITY_V2_CONTEXT = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1_CONTEXT = "https://w3id.org/security/multikey/v1"
DID_V1_CONTEXT = "https://www.w3.org/ns/did/v1"
# Verifying credentials in the VC 1.1 form, as OB 3.0 allows verifiers to (never issued here).
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"

# Undefined terms expand against this vocabulary; ".invalid" (RFC 2606) can never be a real host.
_SENTINEL_VOCAB = "https://undefined-term.skillsign.invalid/#"
# Keywords a document may use outside @context. The others either never reach the RDF (@index,
# @nest) or only belong in a context; a document carrying them would have unsigned parts.
_DOCUMENT_KEYWORDS = frozenset(
    {
        "@direction",
        "@graph",
        "@id",
        "@included",
        "@language",
        "@list",
        "@reverse",
        "@set",
        "@type",
        "@value",
    }
)

RemoteDocument = dict[str, Any]
Loader = Callable[..., RemoteDocument]


# --------------------------------------------------------------------------- vendored contexts


@functools.cache
def _vendored_contexts() -> Mapping[str, dict[str, Any]]:
    folder = Path(__file__).resolve().parent / "contexts"
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return types.MappingProxyType(
        {
            url: json.loads((folder / name).read_text(encoding="utf-8"))
            for url, name in index.items()
        }
    )


def vendored_context_urls() -> frozenset[str]:
    """The context URLs served offline."""
    return frozenset(_vendored_contexts())


def _remote(url: str, document: Any, *, static: bool) -> RemoteDocument:
    remote: RemoteDocument = {"contextUrl": None, "documentUrl": url, "document": document}
    if static:
        # pyld keeps a processed context in the shared resolver cache only when tagged.
        remote["tag"] = "static"
    return remote


def document_loader(url: str, options: Mapping[str, Any] | None = None) -> RemoteDocument:
    """Serve a vendored context as a pyld remote document (``{"document": ..., ...}``).

    Raises :class:`DocumentLoaderError` for any other URL: nothing is ever fetched.
    """
    contexts = _vendored_contexts()
    if url not in contexts:
        raise DocumentLoaderError(url)
    # A copy: pyld may rewrite relative context URLs in place.
    return _remote(url, copy.deepcopy(contexts[url]), static=True)


class DocumentLoader:
    """An offline loader for one run: the vendored contexts plus documents registered for it
    (for example the DID document of a did:web issuer). Registered documents are never put in
    the shared context cache, so one run's documents cannot leak into another's."""

    def __init__(self, documents: Mapping[str, Any] | None = None) -> None:
        self._documents: dict[str, Any] = {}
        for url, document in (documents or {}).items():
            self.register(url, document)

    def register(self, url: str, document: Any) -> None:
        if url in _vendored_contexts():
            raise ValueError(f"{url!r} is a vendored context and cannot be replaced")
        if not isinstance(document, dict):
            raise TypeError(f"document for {url!r} must be a JSON object")
        self._documents[url] = copy.deepcopy(document)

    def load(self, url: str) -> Any:
        """The plain document for ``url``."""
        return self(url)["document"]

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> RemoteDocument:
        if url in self._documents:
            return _remote(url, copy.deepcopy(self._documents[url]), static=False)
        return document_loader(url, options)


class _BoundedCache:
    """The small thread-safe LRU mapping pyld's ContextResolver needs (get / setitem)."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


# Processed contexts, keyed by URL or by the canonical JSON of an inline (scoped) context.
# Bounded: inline contexts come from the documents we are asked to process.
_context_cache = _BoundedCache(maxsize=256)
# Clones of processed contexts used as the base of type-scoped contexts (see _Processor).
_clone_cache = _BoundedCache(maxsize=256)


def clear_context_cache() -> None:
    """Forget processed contexts (for benchmarks that measure a cold start)."""
    global _context_cache, _clone_cache
    _context_cache = _BoundedCache(maxsize=256)
    _clone_cache = _BoundedCache(maxsize=256)


class _Processor(_pyld.JsonLdProcessor):  # type: ignore[misc]  # pyld is untyped
    """pyld's processor with its active-context cache made to work for type-scoped contexts.

    For a type-scoped context (``propagate=False``) pyld first clones the active context and
    gives the clone a fresh random id, and processed contexts are cached by that id: so every
    ``"type": [...]`` node of every document processed its scoped context again (two thirds of
    the expansion time). We hand pyld a clone that is cached per parent context instead: the
    same parent gets the same clone, the clone is never mutated (pyld copies it before adding
    terms), and pyld's cache then hits.
    """

    def _process_context(
        self,
        active_ctx: Any,
        local_ctx: Any,
        options: Any,
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        if (
            not propagate
            and isinstance(active_ctx, _pyld.frozendict)  # processed: immutable under its id
            and "_uuid" in active_ctx
            and not active_ctx.get("previousContext")
            and isinstance(local_ctx, Mapping)
            and "@propagate" not in local_ctx  # would override propagate; leave it to pyld
        ):
            clone = _clone_cache.get(active_ctx["_uuid"])
            if clone is None:
                clone = self._clone_active_context(active_ctx)
                clone["previousContext"] = active_ctx
                clone["_uuid"] = f"{active_ctx['_uuid']}/type-scoped"
                _clone_cache[active_ctx["_uuid"]] = clone
            active_ctx = clone
        return super()._process_context(
            active_ctx,
            local_ctx,
            options,
            override_protected=override_protected,
            propagate=propagate,
            validate_scoped=validate_scoped,
            cycles=cycles,
        )


class _Resolver(ContextResolver):  # type: ignore[misc]  # pyld is untyped
    """pyld's context resolver with a cheaper cache key for inline contexts.

    pyld keys an inline context (each type-scoped context of OB 3.0, resolved again for every
    typed node of every document) by its RFC 8785 canonical JSON, computed in pure Python on
    every call: a sixth of the signing time. The standard library's JSON encoder with sorted
    keys is as good a key (equal contexts give equal strings, different ones different
    strings) at a fraction of the cost. URLs and nulls go to pyld unchanged.
    """

    def resolve(self, active_ctx: Any, context: Any, base: Any, cycles: Any = None) -> Any:
        if isinstance(context, (dict, _pyld.frozendict)) and "@context" in context:
            context = context["@context"]
        resolved: list[Any] = []
        for ctx in context if isinstance(context, list) else [context]:
            if not isinstance(ctx, (dict, _pyld.frozendict)):
                resolved.extend(super().resolve(active_ctx, ctx, base, cycles))
                continue
            key = "inline:" + json.dumps(
                ctx, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=dict
            )
            found = self._get(key)
            if not found:
                found = self._cache_resolved_context(key, ResolvedContext(ctx), "static")
            resolved.append(found)
        return resolved


def _options(loader: Loader | None) -> dict[str, Any]:
    loader = loader or document_loader
    return {
        "base": None,  # the default base turns undefined terms into document-relative IRIs
        "documentLoader": loader,
        "contextResolver": _Resolver(_context_cache, loader),
        "processingMode": "json-ld-1.1",
    }


# --------------------------------------------------------------------------- safe expansion


def _walk_input(node: Any, path: str) -> None:
    """Reject what JSON-LD drops before expansion even starts: nulls and unknown @-keys."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk_input(item, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if key == "@context":
                continue
            if key.startswith("@") and key not in _DOCUMENT_KEYWORDS:
                raise CredentialShapeError(
                    f"{key!r} is not allowed here: JSON-LD would leave it out of the signed data",
                    path=where,
                    term=key,
                )
            if value is None:
                raise CredentialShapeError(
                    "null value: JSON-LD drops it, so it would be left unsigned; omit the key",
                    path=where,
                    term=key,
                )
            _walk_input(value, where)
    elif node is None:
        raise CredentialShapeError("null array item would be dropped and left unsigned", path=path)


def _find_in_input(node: Any, needle: str, path: str = "") -> str | None:
    """First JSON path where ``needle`` is a key or a string value (for error messages)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                continue
            where = f"{path}.{key}" if path else key
            if key == needle:
                return where
            found = _find_in_input(value, needle, where)
            if found:
                return found
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found = _find_in_input(item, needle, f"{path}[{i}]")
            if found:
                return found
    elif node == needle:
        return path
    return None


def _iris_in_expanded(node: Any) -> Iterator[tuple[str, str]]:
    """Yield (role, IRI) for every property, @id and @type IRI in expanded JSON-LD."""
    if isinstance(node, list):
        for item in node:
            yield from _iris_in_expanded(item)
        return
    if not isinstance(node, dict):
        return
    if "@value" in node:
        datatype = node.get("@type")
        if isinstance(datatype, str) and datatype != "@json":
            yield ("datatype", datatype)
        return  # the @value itself is a literal (or raw JSON for @json)
    # Types first: an undefined type also leaves its scoped terms undefined, and the type is
    # the error worth reporting.
    if "@type" in node:
        types_ = node["@type"]
        for type_iri in types_ if isinstance(types_, list) else [types_]:
            yield ("@type", type_iri)
    if "@id" in node:
        yield ("@id", node["@id"])
    for key, value in node.items():
        if key in ("@id", "@type"):
            continue
        if key in ("@list", "@set", "@graph", "@included", "@reverse"):
            yield from _iris_in_expanded(value)
        elif key.startswith("@"):
            continue
        else:
            yield ("property", key)
            yield from _iris_in_expanded(value)


def _check_iri(role: str, iri: Any, document: Mapping[str, Any]) -> None:
    if not isinstance(iri, str):
        raise CredentialShapeError(f"{role} must be a string, got {type(iri).__name__}")
    if iri.startswith(_SENTINEL_VOCAB):
        term = iri[len(_SENTINEL_VOCAB) :]
        what = "type" if role == "@type" else "term"
        raise CredentialShapeError(
            f"undefined {what} {term!r}: no @context defines it, so it would be dropped and "
            "left unsigned (a typo?)",
            path=_find_in_input(document, term),
            term=term,
        )
    if iri.startswith("_:"):
        if role in ("property", "datatype"):
            # RDF has no blank-node predicates or datatypes: the triple would be dropped.
            raise CredentialShapeError(
                f"{role} {iri!r} is a blank node identifier; JSON-LD would drop it",
                path=_find_in_input(document, iri),
                term=iri,
            )
        return
    if not _ABSOLUTE_IRI.match(iri):
        raise CredentialShapeError(
            f"{role} {iri!r} is not an absolute IRI: JSON-LD would drop it (relative IRIs, "
            'spaces and <>"{}|^`\\ are not allowed)',
            path=_find_in_input(document, iri),
            term=iri,
        )


def _wrap_pyld_error(error: Exception) -> CredentialShapeError:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, DocumentLoaderError):
            return CredentialShapeError(
                f"@context {cause.url!r} is not one of the vendored contexts", path="@context"
            )
        if isinstance(cause, CredentialShapeError):
            return cause
        cause = cause.__cause__ or cause.__context__
    details = getattr(error, "details", None)
    code = getattr(error, "code", None)
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    extra = f" [{code}]" if code else ""
    if details:
        extra += f" {details}"
    return CredentialShapeError(f"JSON-LD processing failed: {message}{extra}")


# pyld keeps module-level caches (active contexts, inverse contexts) that are not
# thread-safe; the work is CPU-bound under the GIL anyway, so one lock per
# process costs nothing and keeps threaded servers from corrupting those caches.
_PYLD_LOCK = threading.RLock()
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialised(func: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _PYLD_LOCK:
            return func(*args, **kwargs)

    return wrapper


@_serialised
def expand_safe(document: Mapping[str, Any], *, loader: Loader | None = None) -> list[Any]:
    """Expand ``document`` and refuse anything JSON-LD would silently drop.

    Raises :class:`CredentialShapeError` naming the term or IRI and its JSON path.
    """
    if not isinstance(document, Mapping):
        raise CredentialShapeError(f"a JSON object is required, got {type(document).__name__}")
    if "@context" not in document:
        raise CredentialShapeError("missing @context", path="@context")
    try:
        return _expand_safe(document, loader)
    except RecursionError as error:
        raise CredentialShapeError("the document is nested too deeply") from error


def _expand_safe(document: Mapping[str, Any], loader: Loader | None) -> list[Any]:
    _walk_input(document, "")
    contexts = document["@context"]
    contexts = list(contexts) if isinstance(contexts, list) else [contexts]
    probe = dict(document)
    probe["@context"] = [*contexts, {"@vocab": _SENTINEL_VOCAB}]
    dropped: list[str | None] = []
    try:
        # pyld is untyped; its expand() returns the expanded document as a list.
        expanded: list[Any] = _Processor(on_property_dropped=dropped.append).expand(
            probe, _options(loader)
        )
    except Exception as error:  # pyld raises JsonLdError and assorted built-ins
        raise _wrap_pyld_error(error) from error
    for iri in dropped:
        # A key that even the sentinel vocabulary cannot make absolute (" ", "a b", ...).
        term = iri[len(_SENTINEL_VOCAB) :] if iri and iri.startswith(_SENTINEL_VOCAB) else iri
        raise CredentialShapeError(
            f"key {term!r} is not a term, IRI or keyword: JSON-LD would drop it and leave it "
            "unsigned",
            path=_find_in_input(document, term) if term is not None else None,
            term=term,
        )
    for role, iri in _iris_in_expanded(expanded):
        _check_iri(role, iri, document)
    if not expanded:
        raise CredentialShapeError("the document expands to nothing (no defined terms)")
    # No sentinel IRI appeared, so this is exactly the expansion without the probe context.
    return expanded


# --------------------------------------------------------------------------- RDFC-1.0

_ECHAR = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_LITERAL_ESCAPES = {
    **{c: f"\\u{c:04X}" for c in [*range(0x20), 0x7F]},
    **_ECHAR,
}
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def escape_literal(value: str) -> str:
    """Escape a string literal as RDFC-1.0 canonical N-Quads does."""
    if not _NEEDS_ESCAPE.search(value):
        return value
    return value.translate(_LITERAL_ESCAPES)


def _term(component: Mapping[str, Any]) -> str:
    if component["type"] == "IRI":
        return f"<{component['value']}>"
    label: str = component["value"]  # blank node label, already "_:..."
    return label


def serialize_nquad(quad: Mapping[str, Any]) -> str:
    """One canonical N-Quad (pyld's quad shape in, RDFC-1.0 text out)."""
    obj = quad["object"]
    if obj["type"] in ("IRI", "blank node"):
        rendered = _term(obj)
    else:
        rendered = f'"{escape_literal(obj["value"])}"'
        if obj["datatype"] == _RDF_LANGSTRING:
            if obj.get("language"):
                rendered += f"@{obj['language']}"
        elif obj["datatype"] != _XSD_STRING:
            rendered += f"^^<{obj['datatype']}>"
    graph = quad.get("name")
    tail = f" {_term(graph)}" if graph and graph.get("value") is not None else ""
    return f"{_term(quad['subject'])} {_term(quad['predicate'])} {rendered}{tail} .\n"


def _with_our_serializer(function: Callable[..., Any]) -> Callable[..., Any]:
    """pyld's function with ``serialize_nquad`` resolved to ours instead of pyld's."""
    code = function.__code__
    if "serialize_nquad" not in code.co_names:
        raise ImportError(f"pyld changed: {function.__qualname__} no longer calls serialize_nquad")
    namespace = dict(function.__globals__)
    namespace["serialize_nquad"] = serialize_nquad
    return types.FunctionType(
        code, namespace, function.__name__, function.__defaults__, function.__closure__
    )


class _Rdfc10(_URDNA2015):  # type: ignore[misc]  # pyld is untyped
    """pyld's URDNA2015 (= RDFC-1.0 with SHA-256) with RDFC-1.0 literal escaping."""

    main = _with_our_serializer(_URDNA2015.main)
    hash_first_degree_quads = _with_our_serializer(_URDNA2015.hash_first_degree_quads)


def _only_our_methods_serialize() -> None:
    # If pyld starts serializing quads anywhere else, the override above would be incomplete.
    for name, member in vars(_URDNA2015).items():
        code = getattr(member, "__code__", None)
        if code and "serialize_nquad" in code.co_names and name not in vars(_Rdfc10):
            raise ImportError(f"pyld changed: URDNA2015.{name} serializes quads")


_only_our_methods_serialize()


def _dataset(expanded: list[Any], loader: Loader | None) -> dict[str, Any]:
    """The RDF dataset of expanded JSON-LD: pyld's to_rdf minus its first step, which would
    expand the already expanded input a second time (a quarter of the signing time)."""
    options = _options(loader)
    options["produceGeneralizedRdf"] = False
    options["rdfDirection"] = "i18n-datatype"  # as the JavaScript verifiers canonicalize
    processor = _Processor()
    issuer = IdentifierIssuer("_:b")
    node_map: dict[str, Any] = {"@default": {}}
    processor._create_node_map(expanded, node_map, "@default", issuer)
    return {
        name: processor._graph_to_rdf(graph, issuer, options)
        for name, graph in sorted(node_map.items())
        # expand_safe has refused relative graph names; keep pyld's rule anyway
        if name == "@default" or _ABSOLUTE_IRI.match(name) or name.startswith("_:")
    }


@_serialised
def canonicalize_expanded(expanded: list[Any], *, loader: Loader | None = None) -> str:
    """RDFC-1.0 canonical N-Quads of an already expanded (and safety-checked) document."""
    try:
        # pyld is untyped; with format application/n-quads main() returns the N-Quads text.
        nquads: str = _Rdfc10().main(_dataset(expanded, loader), {"format": "application/n-quads"})
        return nquads
    except Exception as error:
        raise _wrap_pyld_error(error) from error


def canonicalize(document: Mapping[str, Any], *, loader: Loader | None = None) -> str:
    """RDFC-1.0 canonical N-Quads of ``document`` (URDNA2015, base None, offline loader,
    safe mode). Raises :class:`CredentialShapeError` on anything that would go unsigned."""
    return canonicalize_expanded(expand_safe(document, loader=loader), loader=loader)
