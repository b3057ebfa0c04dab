"""MPDP identity service: accounts, access and refresh tokens, invitations, workspace members."""
