-- A client's public keys may be published at a URL (RFC 7591 §2 jwks_uri)
-- instead of registered inline (jwks): the provider fetches the set when it
-- authenticates the client and keeps it a few minutes in the cache layer.

ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
