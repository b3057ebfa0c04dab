"""MPDP approval service: requests that other services open by events, decided by a second person."""
