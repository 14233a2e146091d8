"""The async SDK: one ``Client`` per server, speaking only Courtyard's public wire protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from functools import cached_property
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect

from courtyard import __version__
from courtyard.client.errors import (
    ApiError,
    AuthError,
    ClientError,
    ProtocolError,
    Unreachable,
)
from courtyard.client.media import MediaMixin
from courtyard.client.models import Account, Device, KeyCounts, Session, SyncEvent, UserInfo
from courtyard.client.privacy import Privacy
from courtyard.client.socket_sends import SocketSends
from courtyard.client.sync import Backoff, Cursor, poll_events, socket_events
from courtyard.client.wallet import Wallet

DEFAULT_TIMEOUT = 10.0
POLL_TIMEOUT_MS = 25_000
USER_AGENT = f"courtyard-client/{__version__}"
SyncMode = Literal["auto", "ws", "poll"]
T = TypeVar("T")


class Client(MediaMixin):
    """An async Courtyard client; ``async with Client(url) as c: await c.login(...)``.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8470``.
        token: An access token from an earlier login, if any.
        transport: An httpx transport (``httpx.ASGITransport(app=app)`` in tests); with one,
            ``events()`` long-polls, since such transports cannot carry a WebSocket.
        timeout: Seconds each HTTP request may take (long-polls get their wait on top).
        backoff: How long ``events()`` waits between reconnection attempts.
        ping_interval: Seconds between WebSocket keep-alive pings (None turns them off).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: Backoff | None = None,
        ping_interval: float | None = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.ping_interval = ping_interval
        self._has_custom_transport = transport is not None
        # Sends ride on the sync socket while ``events()`` follows one (else HTTP).
        self.socket_sends = SocketSends()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @cached_property
    def privacy(self) -> Privacy:
        """Policies and consent, export, access log, erasure and complaints."""
        return Privacy(self)

    @cached_property
    def wallet(self) -> Wallet:
        """The wallet of the signed-in user (no PIN yet: set ``client.wallet.pin``)."""
        return Wallet(self)

    # --- sessions -----------------------------------------------------------------------

    async def register(
        self,
        username: str,
        password: str,
        display_name: str,
        region: str,
        device_name: str | None = None,
        *,
        policy_version_hash: str,
        purposes: Mapping[str, bool] | None = None,
    ) -> Session:
        """Create an account; this client then acts as its first device.

        Registering consents to the current privacy policy of ``region``: read it with
        ``client.privacy.policy_for(region)`` and pass its ``version_hash``, with your choice
        for each purpose it asks (``policy.choices(...)``).
        """
        body: dict[str, Any] = {
            "username": username,
            "password": password,
            "display_name": display_name,
            "region": region,
            **_optional(device_name=device_name),
            "policy_version_hash": policy_version_hash,
            "purposes": dict(purposes or {}),
        }
        data = await self._call("POST", "/v1/accounts", json=body, authenticated=False)
        return self._adopt(_parse(Session.from_wire, data))

    async def login(self, username: str, password: str, device_name: str | None = None) -> Session:
        """Sign in as a new device; this client then uses its token."""
        body = {"username": username, "password": password, **_optional(device_name=device_name)}
        data = await self._call("POST", "/v1/sessions", json=body, authenticated=False)
        return self._adopt(_parse(Session.from_wire, data))

    async def logout(self) -> None:
        """Sign this device out: the server removes it and its token stops working."""
        await self._call("DELETE", "/v1/sessions/current")
        self.token = None

    # --- account ------------------------------------------------------------------------

    async def whoami(self) -> Account:
        return _parse(Account.from_wire, await self._call("GET", "/v1/account"))

    async def lookup_user(self, username: str) -> UserInfo:
        """Another user's id and display name, by username (``ApiError`` user_not_found)."""
        data = await self._call("GET", f"/v1/users/by-username/{_segment(username)}")
        return _parse(UserInfo.from_wire, data)

    async def update_profile(self, display_name: str) -> Account:
        data = await self._call("PATCH", "/v1/account/profile", json={"display_name": display_name})
        return _parse(Account.from_wire, data)

    async def change_password(
        self, current: str, new: str, logout_other_devices: bool = True
    ) -> None:
        """Change the password; by default every other device is signed out."""
        body = {
            "current_password": current,
            "new_password": new,
            "logout_other_devices": logout_other_devices,
        }
        await self._call("POST", "/v1/account/password", json=body)

    # --- devices ------------------------------------------------------------------------

    async def devices(self) -> list[Device]:
        data = await self._call("GET", "/v1/devices")
        if not isinstance(data, list):
            raise ProtocolError("the device list is not a list")
        return [_parse(Device.from_wire, item) for item in data]

    async def rename_device(self, device_id: str, name: str) -> Device:
        path = f"/v1/devices/{_segment(device_id)}"
        data = await self._call("PATCH", path, json={"display_name": name})
        return _parse(Device.from_wire, data)

    async def remove_device(self, device_id: str) -> None:
        """Sign one of your devices out remotely."""
        await self._call("DELETE", f"/v1/devices/{_segment(device_id)}")

    # --- keys ---------------------------------------------------------------------------

    async def upload_keys(
        self,
        device_keys: dict[str, Any] | None = None,
        one_time_keys: list[dict[str, Any]] | None = None,
        fallback_key: dict[str, Any] | None = None,
    ) -> KeyCounts:
        """Publish this device's signed identity, one-time and fallback keys."""
        body: dict[str, Any] = {"one_time_keys": one_time_keys or []}
        if device_keys is not None:
            body["device_keys"] = device_keys
        if fallback_key is not None:
            body["fallback_key"] = fallback_key
        data = await self._call("POST", "/v1/keys/upload", json=body)
        return _parse(KeyCounts.from_wire, data)

    async def query_keys(self, user_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The signed device keys of these users' devices; verify them before trusting them."""
        data = await self._call("POST", "/v1/keys/query", json={"user_ids": user_ids})
        return _parse(_keys_by_user, data)

    async def claim_keys(self, devices: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Take one signed one-time (or fallback) key of each ``(user_id, device_id)``."""
        body = {"devices": [{"user_id": u, "device_id": d} for u, d in devices]}
        data = await self._call("POST", "/v1/keys/claim", json=body)
        return _parse(_claimed_keys, data)

    async def key_counts(self) -> KeyCounts:
        """How many one-time keys this device has left, and whether an unused fallback key."""
        return _parse(KeyCounts.from_wire, await self._call("GET", "/v1/keys/count"))

    # --- sync ---------------------------------------------------------------------------

    async def sync_once(
        self, since: int | None = None, timeout_ms: int = 0, limit: int = 100
    ) -> tuple[list[SyncEvent], int]:
        """One ``GET /v1/sync``: events after ``since`` and the position to ask from next.

        Without ``since`` the server starts after this device's acknowledged position; with
        it, ``since`` is acknowledged. ``timeout_ms`` makes it a long-poll.
        """
        params: dict[str, int] = {"timeout": timeout_ms, "limit": limit}
        if since is not None:
            params["since"] = since
        data = await self._call(
            "GET", "/v1/sync", params=params, timeout=self.timeout + timeout_ms / 1000
        )
        try:
            events = [SyncEvent.from_wire(item) for item in data["events"]]
            return events, int(data["next"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed sync response: {exc!r}") from None

    async def events(
        self,
        since: int | None = None,
        *,
        mode: SyncMode = "auto",
        poll_timeout_ms: int = POLL_TIMEOUT_MS,
        limit: int = 100,
        backoff: Backoff | None = None,
    ) -> AsyncIterator[SyncEvent]:
        """Every stream event after ``since``, once each, in order, until the caller stops.

        Survives dropped connections and server restarts by resuming after the last event
        yielded; raises ``AuthError`` once the token is revoked. ``mode`` is ``"ws"``
        (WebSocket push), ``"poll"`` (long-poll) or ``"auto"`` (``"poll"`` when a custom
        transport was given, else ``"ws"``). Without ``since``, starts after the position
        this device last acknowledged.
        """
        if mode not in ("auto", "ws", "poll"):
            raise ValueError(f"mode must be auto, ws or poll, not {mode!r}")
        self._require_token()
        cursor, pause = Cursor(since), backoff or self.backoff
        if mode == "poll" or (mode == "auto" and self._has_custom_transport):

            async def fetch(position: int | None) -> tuple[list[SyncEvent], int]:
                return await self.sync_once(position, timeout_ms=poll_timeout_ms, limit=limit)

            stream = poll_events(fetch, cursor, pause)
        else:
            stream = socket_events(
                self._open_socket, cursor, pause, self._explain_rejection, self.socket_sends
            )
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()

    # --- internals ----------------------------------------------------------------------

    def sync_socket_url(self, since: int | None = None) -> str:
        """The WebSocket URL of ``/v1/sync/ws`` on this server."""
        url = httpx.URL(self.base_url + "/v1/sync/ws")
        scheme = "wss" if url.scheme == "https" else "ws"
        url = url.copy_with(scheme=scheme)
        return str(url.copy_merge_params({"since": since}) if since is not None else url)

    def _open_socket(self, since: int | None) -> AbstractAsyncContextManager[ClientConnection]:
        return connect(
            self.sync_socket_url(since),
            additional_headers={"Authorization": f"Bearer {self._require_token()}"},
            user_agent_header=USER_AGENT,
            open_timeout=self.timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_interval,
            close_timeout=min(self.timeout, 5.0),
        )

    async def _explain_rejection(self, status: int) -> ClientError | None:
        """Why the sync socket was refused, asked over HTTP; None if worth retrying."""
        try:
            await self.whoami()
        except ApiError as exc:
            return exc
        except (Unreachable, ProtocolError):
            return None
        return ApiError(
            status,
            "websocket_rejected",
            "The server refused the sync socket",
            "the token is valid but the WebSocket was refused; try mode='poll'",
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
    ) -> Any:
        response = await self._send(
            method,
            path,
            json=json,
            params=params,
            headers=headers,
            authenticated=authenticated,
            timeout=timeout,
        )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProtocolError(f"{method} {path} answered with a body that is not JSON") from None

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One request; ``Unreachable`` if it got no answer, ``ApiError`` for an error status."""
        sent = {"Authorization": f"Bearer {self._require_token()}"} if authenticated else {}
        try:
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers={**sent, **(headers or {})},
                timeout=timeout if timeout is not None else self.timeout,
            )
        except httpx.TransportError as exc:
            raise Unreachable(self.base_url, str(exc) or type(exc).__name__) from None
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _require_token(self) -> str:
        if not self.token:
            raise AuthError(
                401,
                "not_authenticated",
                "Not signed in",
                "this client has no access token; register or log in first",
            )
        return self.token

    def _adopt(self, session: Session) -> Session:
        self.token = session.access_token
        return session


def _optional(**values: str | None) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


def _segment(value: str) -> str:
    """``value`` as one URL path segment, so an id cannot reach another route."""
    return quote(value, safe="")


def _keys_by_user(data: Any) -> dict[str, list[dict[str, Any]]]:
    devices = data["devices"]
    if not isinstance(devices, dict):
        raise TypeError("devices is not an object")
    return {str(user): [_object(obj) for obj in objs] for user, objs in devices.items()}


def _claimed_keys(data: Any) -> list[dict[str, Any]]:
    keys = data["one_time_keys"]
    if not isinstance(keys, list):
        raise TypeError("one_time_keys is not a list")
    return [_object(obj) for obj in keys]


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    return value


def _parse(parse: Callable[[Any], T], data: Any) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed response: {exc!r}") from None
