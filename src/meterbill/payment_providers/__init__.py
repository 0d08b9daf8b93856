"""Payment providers: collect invoices through an organization's Stripe account."""
