"""Fixtures of the python-socketio client suite: the server under test ($CHAT_URL, started by
tests/tests/it/socketio_py.rs), HTTP calls with requests, and python-socketio clients that record
what they receive and are disconnected when the test ends."""

import itertools
import os
import threading
import time

import pytest
import requests
import socketio

TIMEOUT = 5.0
NO_SUCH_ID = "0123456789abcdef01234567"
SERVER_EVENTS = ("message:new", "message:deleted", "message:typing", "chat:created")
_names = itertools.count()


@pytest.fixture(scope="session")
def base():
    url = os.environ.get("CHAT_URL")
    if not url:
        pytest.fail("CHAT_URL is not set: run this suite through `cargo test -p e2e --test it -- socketio_py`")
    return url.rstrip("/")


class Api:
    """The HTTP API of one server."""

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()

    def call(self, method, path, token=None, body=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.request(method, self.base + path, json=body, headers=headers, timeout=TIMEOUT)
        return response.status_code, (response.json() if response.content else None)

    def register(self, prefix):
        name = f"{prefix}-py{os.getpid()}-{time.time_ns():x}-{next(_names)}"
        status, body = self.call(
            "POST", "/api/auth/register", body={"email": f"{name}@example.com", "username": name, "password": "secret123"}
        )
        assert status == 201, body
        return {"id": body["user"]["_id"], "token": body["accessToken"]}

    def create_chat(self, owner, others):
        return self.call("POST", "/api/chats", owner["token"], {"participants": [o["id"] for o in others]})

    def chat(self, owner, others):
        status, body = self.create_chat(owner, others)
        assert status in (200, 201), body
        return body["_id"]


@pytest.fixture
def api(base):
    return Api(base)


class Inbox:
    """A python-socketio client plus every contract event it received."""

    def __init__(self, client):
        self.client = client
        self.events = []
        self.changed = threading.Condition()
        self.connect_errors = []
        for event in SERVER_EVENTS:
            client.on(event, self._recorder(event))
        client.on("connect_error", self._on_connect_error)

    def _recorder(self, event):
        def record(data):
            with self.changed:
                self.events.append((event, data))
                self.changed.notify_all()

        return record

    def _on_connect_error(self, data):
        with self.changed:
            self.connect_errors.append(data)
            self.changed.notify_all()

    def received(self, event, match=lambda _: True):
        with self.changed:
            return [data for (name, data) in self.events if name == event and match(data)]

    def wait_for(self, event, match=lambda _: True, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [data for (name, data) in self.events if name == event and match(data)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching {event!r} within {timeout} s; received {self.events!r}")
                self.changed.wait(left)

    def call(self, event, data):
        return self.client.call(event, data, timeout=TIMEOUT)

    def settle(self):
        """A round trip: everything emitted to this client before it has arrived afterwards."""
        assert self.call("chat:leave", {"chatId": NO_SUCH_ID}) == {"success": True}

    def join(self, chat):
        ack = self.call("chat:join", {"chatId": chat})
        assert ack["success"] is True and isinstance(ack["lastSeq"], int), ack


MODES = {
    "default transports (polling, then upgrade)": None,
    "websocket only": ["websocket"],
}


@pytest.fixture(params=list(MODES), ids=["polling-then-upgrade", "websocket-only"])
def transports(request):
    return MODES[request.param]


@pytest.fixture
def clients(base, transports):
    """Opens clients for the test: `clients(user)` connects with auth {token}; other keyword
    arguments go to `connect`; `clients.unconnected()` only creates one."""
    opened = []

    def open_client(user=None, url=None, **connect_args):
        inbox = Inbox(socketio.Client(reconnection=False))
        opened.append(inbox)
        if user is not None:
            connect_args["auth"] = {"token": user["token"]}
        inbox.client.connect(url or base, transports=transports, wait_timeout=TIMEOUT, **connect_args)
        return inbox

    def unconnected():
        inbox = Inbox(socketio.Client(reconnection=False))
        opened.append(inbox)
        return inbox

    open_client.unconnected = unconnected
    yield open_client
    # python-socketio's disconnect waits for the WebSocket close handshake in its client
    # library (up to about a second); close them all at once.
    closers = [threading.Thread(target=_disconnect, args=(inbox.client,)) for inbox in opened]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(TIMEOUT)


def _disconnect(client):
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001 - best effort cleanup
        pass
