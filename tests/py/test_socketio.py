"""The core flow of the Socket.IO contract with python-socketio's client against the real
chat-server, once with the default transports (polling, then upgrade) and once WebSocket only:
connect with an auth token (refused without), join, send with an ack, message:new to the
other participant, typing, chat:created, and a message created over HTTP reaching the socket."""

import re

import pytest
import socketio

from conftest import NO_SUCH_ID

HEX_ID = re.compile(r"^[0-9a-f]{24}$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MESSAGE_KEYS = {"_id", "sender", "chat", "text", "type", "status", "isDeleted", "createdAt", "updatedAt", "seq", "editedAt"}


def test_connects_with_an_auth_token(api, clients):
    alice = api.register("alice")
    a = clients(alice)
    assert a.client.connected
    assert isinstance(a.client.get_sid(), str)


@pytest.mark.parametrize(
    "auth",
    [None, {}, {"token": "not-a-jwt"}, {"token": ""}, {"token": 42}],
    ids=["no-auth", "empty-auth", "garbage-token", "empty-token", "number-token"],
)
def test_connect_without_a_valid_token_is_refused(api, clients, auth, base, transports):
    inbox = clients.unconnected()
    with pytest.raises(socketio.exceptions.ConnectionError):
        inbox.client.connect(base, auth=auth, transports=transports, wait_timeout=5)
    assert not inbox.client.connected
    assert inbox.connect_errors == [{"message": "Unauthorized"}]


def test_join_send_and_message_new_reaches_the_other_participant(api, clients):
    alice, bob = api.register("alice"), api.register("bob")
    chat = api.chat(alice, [bob])
    a, b = clients(alice), clients(bob)
    a.join(chat)
    b.join(chat)

    reply = a.call("message:send", {"chatId": chat, "text": "hi <b>bob</b> & co", "clientId": "py-1"})
    assert reply["success"] is True, reply
    message = reply["message"]
    assert set(message) == MESSAGE_KEYS | {"clientId"}
    assert HEX_ID.match(message["_id"]) and ISO_TIME.match(message["createdAt"])
    assert message["sender"] == alice["id"]
    assert message["chat"] == chat
    assert message["text"] == "hi bob &amp; co"
    assert (message["type"], message["status"], message["isDeleted"], message["seq"]) == ("text", "sent", False, 1)
    assert message["clientId"] == "py-1"
    assert b.wait_for("message:new") == message
    assert a.wait_for("message:new") == message, "the sender's own socket gets it too"

    # A retry with the same clientId: the same message, no second message:new. It answers the
    # message as stored now: the server's delivery receipt (flushed once a second, for bob's
    # socket that got it) may have made it "delivered" meanwhile; either status is right.
    again = a.call("message:send", {"chatId": chat, "text": "hi <b>bob</b> & co", "clientId": "py-1"})
    assert again["message"]["status"] in ("sent", "delivered"), again
    assert {**again, "message": {**again["message"], "status": "sent"}} == reply
    b.settle()
    assert b.received("message:new") == [message]


def test_join_is_refused_to_non_participants_and_malformed_payloads(api, clients):
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    chat = api.chat(alice, [bob])
    c = clients(carol)
    forbidden = c.call("chat:join", {"chatId": chat})
    assert (forbidden["success"], forbidden["error"]) == (False, "forbidden")
    assert c.call("chat:join", {"chatId": NO_SUCH_ID})["error"] == "not_found"
    assert c.call("chat:join", {"chatId": 42})["error"] == "invalid_payload"
    assert c.call("message:send", {"chatId": chat, "text": 5})["error"] == "invalid_payload"
    assert c.client.connected


def test_typing_reaches_the_others_only(api, clients):
    alice, bob = api.register("alice"), api.register("bob")
    chat = api.chat(alice, [bob])
    a, b = clients(alice), clients(bob)
    a.join(chat)
    b.join(chat)
    a.client.emit("message:typing", {"chatId": chat, "isTyping": True})
    assert b.wait_for("message:typing") == {"chatId": chat, "userId": alice["id"], "isTyping": True}
    assert a.call("message:typing", {"chatId": chat, "isTyping": False}) == {"success": True}
    assert b.wait_for("message:typing", lambda t: not t["isTyping"]) == {
        "chatId": chat,
        "userId": alice["id"],
        "isTyping": False,
    }
    a.settle()
    assert a.received("message:typing") == [], "the typist does not get its own typing"


def test_chat_created_reaches_both_participants(api, clients):
    alice, bob = api.register("alice"), api.register("bob")
    a, b = clients(alice), clients(bob)
    status, chat = api.create_chat(alice, [bob])
    assert status == 201, chat
    assert a.wait_for("chat:created") == chat
    assert b.wait_for("chat:created") == chat
    assert chat["participants"] == [alice["id"], bob["id"]]
    # The existing 1:1 chat is returned, not announced again.
    status, again = api.create_chat(bob, [alice])
    assert (status, again["_id"]) == (200, chat["_id"])
    a.settle()
    b.settle()
    assert len(a.received("chat:created")) == 1 and len(b.received("chat:created")) == 1


def test_a_message_created_over_http_reaches_the_socket(api, clients):
    alice, bob = api.register("alice"), api.register("bob")
    chat = api.chat(alice, [bob])
    b = clients(bob)
    b.join(chat)
    status, message = api.call("POST", "/api/messages", alice["token"], {"chat": chat, "text": "over http"})
    assert status == 201, message
    assert b.wait_for("message:new") == message
    status, _ = api.call("DELETE", f"/api/messages/{message['_id']}", alice["token"])
    assert status == 200
    assert b.wait_for("message:deleted") == {"messageId": message["_id"], "chatId": chat, "seq": message["seq"] + 1}


def test_the_token_may_come_as_header_or_query(api, clients, base):
    alice, bob = api.register("alice"), api.register("bob")
    by_header = clients(headers={"Authorization": f"Bearer {alice['token']}"})
    by_query = clients(url=f"{base}?token={bob['token']}")
    status, chat = api.create_chat(alice, [bob])
    assert status == 201
    assert by_header.wait_for("chat:created") == chat
    assert by_query.wait_for("chat:created") == chat
