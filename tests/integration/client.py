"""A small HTTP client for the tests, speaking to the gateway as the console would."""

from __future__ import annotations

import secrets
from typing import Any

import requests


class Client:
    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token
        self.http = requests.Session()
        self.account: dict = {}
        self.password = ""
        self.refresh_token = ""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def new_account(self, name: str = "user") -> Client:
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        password = secrets.token_urlsafe(12)
        created = requests.post(self.base + "/api/v1/accounts", json={"email": email, "password": password, "name": name}, timeout=30)
        assert created.status_code == 201, created.text
        tokens = requests.post(self.base + "/api/v1/auth/token", json={"email": email, "password": password}, timeout=30)
        assert tokens.status_code == 200, tokens.text
        user = Client(self.base, tokens.json()["access_token"])
        user.account, user.password, user.refresh_token = created.json(), password, tokens.json()["refresh_token"]
        return user
