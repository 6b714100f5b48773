//! The chat domain: entities, their rules, the use-case services and the ports adapters implement.
//!
//! This crate does no I/O and knows nothing of HTTP, WebSocket, JSON or any database. Every
//! business rule of the product lives here and only here; adapters translate at the edges.

pub mod credentials;
pub mod error;
pub mod event;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod group;
pub mod id;
pub mod model;
pub mod ports;
pub mod presence;
pub mod receipt_pacing;
pub mod receipts;
pub mod security_log;
pub mod services;
pub mod text;
pub mod time;

pub use error::{Error, Result};
pub use event::{ChatEvent, DomainEvent};
pub use group::{visible_to, ChangeKind, ChatChange, ChatChanged, ChatUpdate};
pub use id::{ChatId, Id, InvalidId, MessageId, UserId};
pub use model::*;
pub use services::{
    AuthService, CatchUpRefusal, ChatService, ChatSummary, JoinOutcome, MessageService, Presence, PresenceService,
    ReceiptService, ReceiptState, SendMessage, ServicePorts, Services, ServicesConfig, Session,
};
pub use text::{ChatName, ClientId, Email, MessageText, Password, Username};
pub use time::{Clock, SystemClock, Timestamp};
