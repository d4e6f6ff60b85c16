"""End-to-end tests with the real agent CLIs: Claude Code, Codex and Gemini CLI."""
