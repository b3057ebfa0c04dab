"""`mpdp`, the MPDP developer command line: sign in, and upload mini program versions from a
developer's machine or a CI job (with a workspace API key in MPDP_API_KEY)."""
