"""Payments: products, checkout through a gateway, signed webhooks applied once, entitlements."""
