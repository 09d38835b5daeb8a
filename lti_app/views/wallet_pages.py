"""The learner's "Add to a wallet" page (``/s/<ls>/credentials/<id>/wallet``).

The learner first chooses whether their name appears on their credentials (asked once, shown
again every time so it can be changed), then gets a credential offer: a QR code for a phone
wallet and an ``openid-credential-offer://`` link for a wallet on this device, valid for a few
minutes and usable once (services/wallet.py). Only the credential's own learner gets one.
"""

from __future__ import annotations

import uuid

from flask import render_template, request
from flask_babel import gettext

from lti_app import request_db
from lti_app.auth import current_actor, launch_blueprint
from lti_app.db.models import Credential, User
from lti_app.errors import AppError, NotFound
from lti_app.services import credential_store, wallet
from lti_app.services import issuer as issuer_service
from lti_app.views import checklist_pages as pages
from lti_app.views.credentials import qr_svg

bp = launch_blueprint("wallet", __name__)
bp.context_processor(pages.nav_context)


def _own_credential(credential_id: uuid.UUID) -> tuple[int, Credential]:
    actor = current_actor()
    credential = credential_store.get(request_db.session(), credential_id)
    if credential.learner_id != actor.user_id or credential.copy_of_id is not None:
        # The same answer as an unknown id: nobody learns whose credentials exist.
        raise NotFound(gettext("You have no such credential."))
    return actor.user_id, credential


def _page(credential: Credential, user_id: int, **extra: object) -> str:
    user = request_db.session().get(User, user_id)
    return render_template(
        "checklists/wallet.html",
        credential=credential,
        chosen=user is not None and user.name_choice_at is not None,
        show_name=user is not None and user.show_name_on_credentials,
        learner_name=user.name if user is not None else None,
        minutes=int(wallet.OFFER_TTL.total_seconds() // 60),
        **extra,
    )


@bp.get("/credentials/<uuid:credential_id>/wallet")
def wallet_page(credential_id: uuid.UUID) -> str:
    user_id, credential = _own_credential(credential_id)
    return _page(credential, user_id)


@bp.post("/credentials/<uuid:credential_id>/wallet")
def make_offer(credential_id: uuid.UUID) -> str | tuple[str, int]:
    user_id, credential = _own_credential(credential_id)
    session = request_db.session()
    choice = request.form.get("show_name")
    if choice not in ("yes", "no"):
        error = gettext("Choose whether your name appears on your credentials.")
        return _page(credential, user_id, error=error), 400
    wallet.set_name_choice(session, user_id, choice == "yes")
    try:
        offer = wallet.create_offer(
            session,
            issuer_service.context(session),
            credential_id=credential_id,
            learner_id=user_id,
            tx_code=request.form.get("tx_code") == "on",
        )
    except AppError as exc:
        return _page(credential, user_id, error=pages.message(exc)), exc.status
    return _page(credential, user_id, offer=offer, qr=qr_svg(offer.link))
