"""The sandbox: loopback stand-ins for the external services (Yandex Search API, company sites, SMTP relay, LLM),
for the demo and the tests; a dev tool the runtime image does not ship (import its modules directly)."""
