//! The in-process server: the real domain services over the in-memory store, a fake token port
//! and password hasher, and the gateway wired as `app` wires it (`SocketIo`, `SocketNotifier`,
//! `ChatGateway`), served by actix-web on a free port of 127.0.0.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::App;
use adapter_ws::gateway::{ChatGateway, DeliveryLedger, GatewayConfig, PacedReceipts, SocketNotifier};
use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::fakes::InMemoryStore;
use chat_domain::ports::{
    ChatRepository, MessageRepository, Notifier, PasswordHasher, TokenClaims, TokenService, Unlimited, UserRepository,
};
use chat_domain::{
    Chat, ChatId, ChatInserted, ChatView, Clock, DomainEvent, Password, PasswordHash, ServicePorts, Services,
    ServicesConfig, SystemClock, Timestamp, UserId,
};
use socketio::SocketIo;
use tokio::sync::oneshot;

use crate::client::Client;

/// How long a test waits for something that should happen promptly before it fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Waits until `condition` holds, checking it every millisecond; fails the test after
/// [`PATIENCE`]. For server state that no frame announces (a socket's cleanup).
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The domain clock of these tests: the system's, plus an offset a test may move forward to
/// age every token at once.
#[derive(Default)]
pub struct TestClock {
    offset: Mutex<chrono::TimeDelta>,
}

impl TestClock {
    pub fn advance(&self, by: chrono::TimeDelta) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        SystemClock.now() + *self.offset.lock().unwrap()
    }
}

/// The token port of these tests: a token is valid when this service issued it, and says who
/// it was issued to and when. Like the real port it reads no clock when decoding: judging a
/// token's times is the domain's and the gateway's business, which is what the tests check.
pub struct FakeTokens {
    clock: Arc<dyn Clock>,
    lifetime: chrono::TimeDelta,
    issued: Mutex<HashMap<String, TokenClaims>>,
}

impl FakeTokens {
    fn new(clock: Arc<dyn Clock>, lifetime: chrono::TimeDelta) -> Self {
        Self { clock, lifetime, issued: Mutex::default() }
    }

    /// A token for `user` that expires `lifetime` from now (negative: already expired).
    pub fn mint(&self, user: UserId, lifetime: chrono::TimeDelta) -> String {
        let now = self.clock.now();
        // An expired token was issued before it expired.
        let issued_at = now.min(now + lifetime - chrono::TimeDelta::seconds(1));
        self.store(TokenClaims {
            user,
            issued_at: Some(issued_at),
            expires_at: now + lifetime,
            not_before: None,
            version: 0,
        })
    }

    /// A token with exactly these claims (times in the future, versions, users that do not
    /// exist), as a signing node could have issued it.
    pub fn mint_claims(&self, claims: TokenClaims) -> String {
        self.store(claims)
    }

    fn store(&self, claims: TokenClaims) -> String {
        let mut issued = self.issued.lock().unwrap();
        let token = format!("fake-token-{}-{}-{}", issued.len(), claims.user, claims.expires_at.timestamp_millis());
        issued.insert(token.clone(), claims);
        token
    }
}

impl TokenService for FakeTokens {
    fn issue(&self, user: UserId, version: u64, issued_at: Timestamp) -> Result<String, StoreError> {
        let expires_at = issued_at + self.lifetime;
        Ok(self.store(TokenClaims { user, issued_at: Some(issued_at), expires_at, not_before: None, version }))
    }

    fn decode(&self, token: &str) -> Option<TokenClaims> {
        self.issued.lock().unwrap().get(token).copied()
    }
}

/// A pause planted in the store's chat reads: the `skip + 1`-th [`ChatRepository::chat_alone`]
/// from now on waits until the test releases it, after telling the test it is there. Lets a
/// test commit events at an exact point of a use case (inside a catch-up, after the gateway
/// has joined the room and before the domain reads the chat's last seq).
struct Gate {
    skip: usize,
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// The test's end of a [`Gate`].
pub struct GateHandle {
    entered: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl GateHandle {
    /// Waits until the gated read has begun (and is waiting).
    pub async fn entered(&mut self) {
        tokio::time::timeout(PATIENCE, &mut self.entered)
            .await
            .expect("the gated chat read did not happen in time")
            .expect("the gate was dropped");
    }

    /// Lets the gated read go on.
    pub fn release(self) {
        self.release.send(()).expect("the gated read is gone");
    }
}

/// The in-memory store's chats, with a [`Gate`] that can be planted.
struct GatedChats {
    store: Arc<InMemoryStore>,
    gate: Mutex<Option<Gate>>,
}

#[async_trait]
impl ChatRepository for GatedChats {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        self.store.insert_chat(chat).await
    }

    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        self.store.chat_by_id(id).await
    }

    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        let gate = {
            let mut slot = self.gate.lock().unwrap();
            match slot.as_mut() {
                Some(gate) if gate.skip > 0 => {
                    gate.skip -= 1;
                    None
                }
                Some(_) => slot.take(),
                None => None,
            }
        };
        if let Some(gate) = gate {
            let _ = gate.entered.send(());
            let _ = gate.release.await;
        }
        self.store.chat_alone(id).await
    }

    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        self.store.chats_of_user(user, limit, before).await
    }

    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        self.store.direct_chat(key).await
    }

    async fn change_chat(&self, update: chat_domain::ChatUpdate) -> Result<chat_domain::ChatChanged, StoreError> {
        self.store.change_chat(update).await
    }

    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        self.store.contacts_of(user).await
    }
}

/// Stores passwords as `plain:<password>`; hashing is another adapter's business.
struct FakeHasher;

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        Ok(PasswordHash(format!("plain:{}", password.expose())))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        hash.0 == format!("plain:{}", password.expose())
    }
}

/// A registered user and a token of theirs valid for an hour.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: UserId,
    pub token: String,
}

/// The services' notifier: this node's `SocketNotifier`, which a test may make hold the
/// group changes it is given (as if their delivery were still on its way from another node)
/// while everything else is delivered at once.
pub struct Relay {
    local: SocketNotifier,
    held: Mutex<Option<Vec<DomainEvent>>>,
}

impl Relay {
    /// From now on, group changes are held until [`release`](Self::release).
    pub fn hold_changes(&self) {
        *self.held.lock().unwrap() = Some(Vec::new());
    }

    /// Delivers the held changes, in order, and holds nothing more.
    pub fn release(&self) {
        let held = self.held.lock().unwrap().take().unwrap_or_default();
        for event in &held {
            self.local.deliver_event(event);
        }
    }
}

#[async_trait]
impl Notifier for Relay {
    async fn publish(&self, event: DomainEvent) {
        if matches!(event, DomainEvent::ChatUpdated { .. } | DomainEvent::AddedToChat { .. }) {
            if let Some(held) = self.held.lock().unwrap().as_mut() {
                held.push(event);
                return;
            }
        }
        self.local.deliver_event(&event);
    }
}

/// One gateway served in-process until dropped.
pub struct Harness {
    pub services: Services,
    pub relay: Arc<Relay>,
    pub tokens: Arc<FakeTokens>,
    pub clock: Arc<TestClock>,
    pub io: SocketIo,
    pub gateway: ChatGateway,
    /// With [`Harness::with_receipts`]: the receipt pacing, which the test flushes itself.
    pub paced: Option<Arc<PacedReceipts>>,
    /// How far the pacing's clock has been moved ahead of the monotonic one.
    pacing_offset: Arc<Mutex<Duration>>,
    chats: Arc<GatedChats>,
    port: u16,
    server: ServerHandle,
}

impl Harness {
    /// A server with the production gateway settings.
    pub fn start() -> Self {
        Self::with_config(GatewayConfig::default())
    }

    /// A server with these gateway settings. Call from inside a Tokio runtime: the gateway's
    /// sweeper and the HTTP server are spawned onto it.
    pub fn with_config(config: GatewayConfig) -> Self {
        Self::build(config, false)
    }

    /// A server wired as `app` wires it for receipts: the server's own delivery receipts (which
    /// the test flushes with [`flush_deliveries`](Self::flush_deliveries); the gateway's own
    /// flusher waits an hour) and `receipt:updated` paced on a clock the test moves with
    /// [`pass`](Self::pass).
    pub fn with_receipts() -> Self {
        let config = GatewayConfig { delivery_receipt_interval: Duration::from_secs(3600), ..GatewayConfig::default() };
        Self::build(config, true)
    }

    fn build(config: GatewayConfig, receipts: bool) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(TestClock::default());
        let tokens = Arc::new(FakeTokens::new(clock.clone(), chrono::TimeDelta::hours(1)));
        // As in `app`: the Socket.IO server exists first, so the notifier can reach its rooms.
        let io = SocketIo::new(adapter_ws::gateway::engine_config());
        let users: Arc<dyn UserRepository> = store.clone();
        let gated = Arc::new(GatedChats { store: store.clone(), gate: Mutex::new(None) });
        let chats: Arc<dyn ChatRepository> = gated.clone();
        let messages: Arc<dyn MessageRepository> = store.clone();
        let ledger = DeliveryLedger::new();
        let pacing_offset = Arc::new(Mutex::new(Duration::ZERO));
        let notifier = match receipts {
            true => SocketNotifier::new(io.clone()).with_delivery_ledger(ledger.clone()),
            false => SocketNotifier::new(io.clone()),
        };
        let relay = Arc::new(Relay { local: notifier.clone(), held: Mutex::new(None) });
        let (publisher, paced): (Arc<dyn chat_domain::ports::Notifier>, _) = if receipts {
            let (base, offset) = (std::time::Instant::now(), pacing_offset.clone());
            let clock = Arc::new(move || base + base.elapsed() + *offset.lock().unwrap());
            let paced = PacedReceipts::with_clock(relay.clone(), Default::default(), clock);
            (paced.clone(), Some(paced))
        } else {
            (relay.clone(), None)
        };
        let ports = ServicePorts {
            users,
            chats,
            messages,
            receipts: store,
            notifier: publisher,
            limiter: Arc::new(Unlimited),
            hasher: Arc::new(FakeHasher),
            tokens: tokens.clone(),
            clock: clock.clone(),
        };
        let services = Services::new(ports, ServicesConfig::default());
        let mut gateway = ChatGateway::new(services.clone(), config);
        if receipts {
            gateway = gateway.with_delivery_receipts(ledger);
        }
        notifier.attach(&gateway);
        gateway.clone().mount(&io);

        // Bound before serving: clients may connect as soon as this returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let io_app = io.clone();
        let server =
            socketio::HttpServer::new(io.clone(), move || App::new().configure(socketio::configure(io_app.clone())))
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { services, relay, tokens, clock, io, gateway, paced, pacing_offset, chats: gated, port, server: handle }
    }

    /// Writes the server's own delivery receipts noted so far, as the gateway's flusher does
    /// every second.
    pub async fn flush_deliveries(&self) {
        self.gateway.flush_delivery_receipts(&self.io).await;
    }

    /// Moves the receipt pacing's clock `by` ahead and announces what is due then.
    pub async fn pass(&self, by: Duration) {
        *self.pacing_offset.lock().unwrap() += by;
        self.paced.as_ref().expect("a harness with receipts").flush_due().await;
    }

    /// The WebSocket URL of the Engine.IO endpoint, with `extra` appended to the query.
    pub fn ws_url(&self, extra: &str) -> String {
        format!("ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket{extra}", self.port)
    }

    /// Plants a [`Gate`] in the chat reads: the `skip + 1`-th `chat_alone` from now on waits
    /// for the returned handle's release.
    pub fn gate_chat_read(&self, skip: usize) -> GateHandle {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        let gate = Gate { skip, entered: entered_tx, release: release_rx };
        assert!(self.chats.gate.lock().unwrap().replace(gate).is_none(), "one gate at a time");
        GateHandle { entered: entered_rx, release: release_tx }
    }

    /// Registers `name` (`<name>@example.com`) through the domain's auth service.
    pub async fn user(&self, name: &str) -> TestUser {
        let session = self.services.auth.register(&format!("{name}@example.com"), name, "password-1").await.unwrap();
        TestUser { id: session.user.id, token: session.access_token }
    }

    /// Creates a chat of `owner` and `others` (as `POST /api/chats` would) and returns its id.
    pub async fn chat(&self, owner: &TestUser, others: &[&TestUser]) -> ChatId {
        let ids: Vec<UserId> = others.iter().map(|u| u.id).collect();
        let (view, _) = self.services.chats.create(owner.id, &ids, None).await.unwrap();
        view.chat.id
    }

    /// A socket of `user` connected to `/` with its token in the CONNECT payload.
    pub async fn connect(&self, user: &TestUser) -> Client {
        self.connect_with_token(&user.token).await
    }

    /// A socket connected to `/` with `token` in the CONNECT payload; panics if refused.
    pub async fn connect_with_token(&self, token: &str) -> Client {
        let mut client = Client::open(&self.ws_url("")).await;
        match client.connect(Some(&serde_json::json!({ "token": token }))).await {
            Ok(_) => client,
            Err(refusal) => panic!("CONNECT refused: {refusal}"),
        }
    }

    /// A socket of `user` that has joined `chat` (and checked the ack).
    pub async fn joined(&self, user: &TestUser, chat: ChatId) -> Client {
        let mut client = self.connect(user).await;
        let ack = client.join(chat).await;
        assert_eq!(ack["success"], true, "join refused: {ack}");
        client
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.io.shutdown();
        // Sends the stop command now; the returned future only reports completion.
        drop(self.server.stop(false));
    }
}
