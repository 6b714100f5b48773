//! End-to-end tests against the real chat-server binary live in tests/.
