"""Test helpers for device keys: a vodozemac account per device and the signed objects
docs/messaging.md describes, plus thin wrappers around the keys API."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import vodozemac

from tests.conftest import bearer

P = 2**255 - 19
LOW_ORDER_HEX = {
    "zero": "00" * 32,
    "one": "01" + "00" * 31,
    "order8": "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "order8b": "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "p-1": (P - 1).to_bytes(32, "little").hex(),
    "p": P.to_bytes(32, "little").hex(),
    "p+1": (P + 1).to_bytes(32, "little").hex(),
    "zero-top-bit": "00" * 31 + "80",
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def canonical(obj: dict[str, Any]) -> bytes:
    """docs/messaging.md's canonical form, spelled out here rather than imported."""
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Device:
    """A device's vodozemac account and the signed key objects docs/messaging.md describes."""

    def __init__(self, session: dict[str, str]) -> None:
        self.session = session
        self.user_id, self.device_id = session["user_id"], session["device_id"]
        self.account = vodozemac.Account()
        self.headers = bearer(session)
        self._fallbacks = 0

    def sign(self, obj: dict[str, Any], signer: vodozemac.Account | None = None) -> dict[str, Any]:
        signature = (signer or self.account).sign(canonical(obj)).to_base64()
        return {**obj, "signature": signature}

    def device_keys(self, account: vodozemac.Account | None = None) -> dict[str, Any]:
        account = account or self.account
        obj = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": ["olm.v1.curve25519-aes-sha2", "megolm.v1.aes-sha2"],
            "keys": {
                "curve25519": account.curve25519_key.to_base64(),
                "ed25519": account.ed25519_key.to_base64(),
            },
        }
        return self.sign(obj, account)

    def key(self, key_id: str, key: str, *, fallback: bool = False) -> dict[str, Any]:
        obj = {
            "key_id": key_id,
            "key": key,
            "user_id": self.user_id,
            "device_id": self.device_id,
            "fallback": fallback,
        }
        return self.sign(obj)

    def one_time_keys(self, count: int) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = []
        while len(keys) < count:
            self.account.generate_one_time_keys(min(count - len(keys), 50))
            fresh = self.account.one_time_keys
            self.account.mark_keys_as_published()
            keys += [self.key(kid, k.to_base64()) for kid, k in sorted(fresh.items())]
        return keys

    def fallback_key(self) -> dict[str, Any]:
        self._fallbacks += 1
        key = vodozemac.Curve25519SecretKey().public_key().to_base64()
        return self.key(f"fallback{self._fallbacks}", key, fallback=True)


async def upload(
    http: httpx.AsyncClient, device: Device, *, as_: Device | None = None, **body: Any
) -> httpx.Response:
    headers = (as_ or device).headers
    return await http.post("/v1/keys/upload", json=body, headers=headers)


async def uploaded(http: httpx.AsyncClient, device: Device, **body: Any) -> dict[str, Any]:
    response = await upload(http, device, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def query(http: httpx.AsyncClient, asker: Device, *user_ids: str) -> dict[str, Any]:
    response = await http.post(
        "/v1/keys/query", json={"user_ids": list(user_ids)}, headers=asker.headers
    )
    assert response.status_code == 200, response.text
    devices: dict[str, Any] = response.json()["devices"]
    return devices


async def claim(http: httpx.AsyncClient, asker: Device, *targets: Device) -> list[dict[str, Any]]:
    body = {"devices": [{"user_id": t.user_id, "device_id": t.device_id} for t in targets]}
    response = await http.post("/v1/keys/claim", json=body, headers=asker.headers)
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["one_time_keys"]
    return keys


async def counts(http: httpx.AsyncClient, device: Device) -> dict[str, Any]:
    response = await http.get("/v1/keys/count", headers=device.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def key_events(http: httpx.AsyncClient, device: Device) -> list[tuple[str, dict[str, Any]]]:
    response = await http.get("/v1/sync?since=0&limit=500", headers=device.headers)
    return [
        (e["type"], e["content"])
        for e in response.json()["events"]
        if e["type"].startswith("keys.")
    ]


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
