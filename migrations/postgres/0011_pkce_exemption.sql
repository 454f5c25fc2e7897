-- A global administrator may exempt one confidential client from PKCE
-- (relying-party software that sends no code_challenge; RFC 9700 §2.1.1
-- accepts nonce as the code-injection defence for confidential OpenID
-- Connect clients). NULL: PKCE required, as for every client by default;
-- otherwise the administrator's reason, shown in the registry.

ALTER TABLE clients ADD COLUMN pkce_exempt_reason TEXT;
