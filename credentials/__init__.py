"""Open Badges 3.0 / W3C VC 2.0 credentials: building, signing, verifying. Pure Python (no web
framework, no database); keys come in as ``cryptography`` key objects.

Modules: ``ob3`` (build an OpenBadgeCredential), ``data_integrity`` (eddsa-rdfc-2022 proofs),
``jwt`` (VC-JWT), ``did`` (did:key, did:web), ``status_list`` (Bitstring Status List),
``baking`` (PNG/SVG), ``ob2`` (OB 2.0 hosted objects), ``verify`` (one pipeline for all of it),
``jsonld`` (offline contexts, safe RDFC-1.0 canonicalization), ``errors``.
"""
