"""Revenue analytics: gross revenue, overdue balance, invoice collection (Lago's /analytics)."""
