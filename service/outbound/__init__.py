"""Outbound HTTP (webhooks): the SSRF address policy, Standard Webhooks signing, the sender.

The only place besides ``service.auth`` (JWKS fetches) that opens connections to URLs a
client chose.
"""
