"""Payments recorded against invoices (Lago's manual payments)."""
