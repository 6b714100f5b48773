//! Use-case services: the only place business rules run. Adapters call these, never the
//! repositories directly.

mod auth;
mod chats;
mod groups;
mod membership;
mod messages;
mod presence;
mod receipts;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use auth::{AuthService, Session};
pub use chats::ChatService;
pub use messages::{CatchUpRefusal, JoinOutcome, MessageService, SendMessage};
pub use presence::{Presence, PresenceService};
pub use receipts::{ChatSummary, ReceiptService, ReceiptState};

use crate::ports::{
    ChatRepository, MessageRepository, Notifier, PasswordHasher, RateLimiter, ReceiptRepository, TokenService,
    UserRepository,
};
use crate::security_log::SecurityLog;
use crate::time::Clock;

/// Tunables of the services, with production defaults.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// Most events a `chat:join` with `sinceSeq` replays; further behind is not recovered.
    pub max_catch_up_events: u64,
    /// Most users one search returns.
    pub user_search_limit: usize,
    /// Most participants a chat may have, the creator included; 0 leaves only the model's
    /// hard bound, [`crate::model::MAX_PARTICIPANTS`].
    pub max_group_size: usize,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self { max_catch_up_events: 1_000, user_search_limit: 20, max_group_size: 100 }
    }
}

/// Every port the services need, as trait objects.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub chats: Arc<dyn ChatRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub receipts: Arc<dyn ReceiptRepository>,
    pub notifier: Arc<dyn Notifier>,
    pub limiter: Arc<dyn RateLimiter>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub clock: Arc<dyn Clock>,
}

/// The services, built once from the ports and cloned cheaply into each adapter.
#[derive(Clone)]
pub struct Services {
    pub auth: AuthService,
    pub chats: ChatService,
    pub messages: MessageService,
    pub receipts: ReceiptService,
    pub presence: PresenceService,
    /// This node's security log, which the services write to; adapters record the refusals
    /// they decide themselves (connection caps) in it too.
    pub security: SecurityLog,
}

impl Services {
    pub fn new(ports: Ports, config: ServicesConfig) -> Self {
        let config = Arc::new(config);
        let security = SecurityLog::new(ports.clock.clone());
        let chats = ChatService::new(ports.clone(), config.clone(), security.clone());
        Self {
            auth: AuthService::new(ports.clone(), config.clone(), security.clone()),
            receipts: ReceiptService::new(ports.clone(), chats.clone()),
            presence: PresenceService::new(ports.clone()),
            messages: MessageService::new(ports, config, chats.clone()),
            chats,
            security,
        }
    }
}

pub use self::Ports as ServicePorts;
