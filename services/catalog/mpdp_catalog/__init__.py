"""MPDP catalog service: mini programs, versions and packages, testers, JSAPIs and features."""
