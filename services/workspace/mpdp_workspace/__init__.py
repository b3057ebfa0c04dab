"""MPDP workspace service: tenant and developer workspaces, settings, host apps and their keys, API keys."""
