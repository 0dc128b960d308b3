"""The register: models, repositories and migrations. Knows policy, never Teams or aiohttp."""
