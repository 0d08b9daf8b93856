"""The webhook type names an endpoint may subscribe to (Lago's config/webhook_event_types.yml)."""

from __future__ import annotations

EVENT_TYPES: frozenset[str] = frozenset(
    """
    alert.triggered billable_metric.created billable_metric.updated billable_metric.deleted
    customer.created customer.updated customer.accounting_provider_created
    customer.accounting_provider_error customer.crm_provider_created customer.crm_provider_error
    customer.payment_provider_created customer.payment_provider_error
    customer.checkout_url_generated customer.tax_provider_error customer.vies_check
    credit_note.created credit_note.generated credit_note.provider_refund_failure
    dunning_campaign.finished event.error events.errors feature.created feature.updated
    feature.deleted fee.created fee.tax_provider_error invoice.created invoice.one_off_created
    invoice.paid_credit_added invoice.generated invoice.drafted invoice.ready_to_finalize
    invoice.voided invoice.deleted invoice.payment_dispute_lost invoice.payment_status_updated
    invoice.payment_overdue invoice.payment_failure invoice.resynced integration.provider_error
    order.created order.executed order_form.created order_form.signed order_form.expired
    order_form.voided payment.succeeded payment.requires_action payment_provider.error
    payment_receipt.created payment_receipt.generated payment_request.created
    payment_request.payment_failure payment_request.payment_status_updated plan.created
    plan.updated plan.deleted quote.created quote.approved quote.voided subscription.canceled
    subscription.incomplete subscription.terminated subscription.started subscription.updated
    subscription.termination_alert subscription.trial_ended
    subscription.usage_threshold_reached wallet.created wallet.depleted_ongoing_balance
    wallet.terminated wallet.updated wallet_transaction.created wallet_transaction.updated
    wallet_transaction.payment_failure
    """.split()
)

# The types meterbill sends today (the others may be subscribed to, and never come).
SENT: tuple[str, ...] = tuple(
    """
    customer.created customer.updated subscription.started subscription.updated
    subscription.terminated subscription.termination_alert subscription.trial_ended
    invoice.drafted invoice.created invoice.one_off_created invoice.paid_credit_added
    invoice.voided invoice.payment_status_updated invoice.payment_overdue
    invoice.generated credit_note.created credit_note.generated
    fee.created wallet.created wallet.updated wallet.terminated
    wallet.depleted_ongoing_balance wallet_transaction.created wallet_transaction.updated
    event.error events.errors customer.payment_provider_created
    customer.payment_provider_error invoice.payment_failure invoice.payment_dispute_lost
    """.split()
)
