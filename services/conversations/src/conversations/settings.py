from pydantic import Field, field_validator

from shared.crypto import DEV_ENCRYPTION_KEY, parse_keys
from shared.settings import ServiceSettings, token_key_length


class Settings(ServiceSettings):
    port: int = Field(default=8003, validation_alias="CONVERSATIONS_PORT")

    # Web chat: how long a visitor token stays valid, and the in-memory rate limits (per
    # process; behind N replicas the effective limit is N times these).
    visitor_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    webchat_window_seconds: float = Field(default=60.0, gt=0)
    webchat_per_visitor: int = Field(default=20, ge=1)
    webchat_per_address: int = Field(default=60, ge=1)
    # Typing signals (the page sends one about every 2 s while the visitor types).
    webchat_typing_per_visitor: int = Field(default=60, ge=1)
    webchat_typing_per_address: int = Field(default=600, ge=1)

    # Inbound messages are stored in batches (usecases/inbound_batch.py): at most this many
    # deliveries per transaction; a lone message waits this long for others to join it.
    inbound_batch_size: int = Field(default=100, ge=1, le=1000)
    inbound_batch_wait_ms: float = Field(default=2.0, ge=0, le=1000)

    # The agent (conversations/agent): unset AGENT_MODEL = the built-in agent, offline.
    # AGENT_ENABLED=false: this process does not consume the agent's queue (another
    # deployment of the same image runs the agent).
    agent_enabled: bool = True
    agent_model: str | None = None  # e.g. "openai-chat:gpt-4o-mini"
    agent_base_url: str | None = None  # any OpenAI-compatible endpoint
    agent_api_key: str | None = None
    # A visitor still writing gets one answer that reads it all, and nobody else waits.
    # Web chat: the agent holds its turn only while the page says the visitor types (a
    # signal counts AGENT_TYPING_SECONDS, at most AGENT_TYPING_MAX_SECONDS after a message).
    # Other channels: until no new message came for AGENT_BURST_SECONDS (restarted by each
    # one), at most AGENT_BURST_MAX_SECONDS after a message. 0 turns either wait off.
    agent_burst_seconds: float = Field(default=0.8, ge=0, le=30)
    agent_burst_max_seconds: float = Field(default=5.0, ge=0, le=60)
    agent_typing_seconds: float = Field(default=3.0, ge=0, le=30)
    agent_typing_max_seconds: float = Field(default=8.0, ge=0, le=60)
    # Upcoming bookings one contact may hold through the agent; 0 = no limit.
    bookings_per_contact: int = Field(default=3, ge=0, le=100)
    # Bookings the agent may make in web chats started from one client address, per workspace
    # and UTC day (anonymous booking abuse); 0 = no limit.
    webchat_bookings_per_address_per_day: int = Field(default=5, ge=0, le=100_000)
    # One-time codes that prove a typed e-mail (usecases/identity.py): how long one is valid,
    # wrong tries before it locks, codes one conversation may ask for per hour, and codes one
    # e-mail may be sent per hour in a workspace (from any number of chats).
    identity_code_ttl_seconds: int = Field(default=600, ge=60, le=86_400)
    identity_code_attempts: int = Field(default=5, ge=1, le=20)
    identity_code_requests_per_hour: int = Field(default=3, ge=1, le=100)
    identity_code_per_target_per_hour: int = Field(default=5, ge=1, le=100)
    # The HMAC key codes are kept under; unset, derived from this service's internal-token key.
    identity_code_key: str = ""
    agent_turn_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    agent_max_requests: int = Field(default=8, ge=1, le=50)
    agent_max_tool_calls: int = Field(default=8, ge=1, le=50)
    agent_max_tokens: int = Field(default=24_000, ge=1000)
    connectors_url: str = "http://127.0.0.1:8002"
    # The key the agent signs its calendar calls to connectors with (shared.tokens); unset,
    # derived from SECRET_KEY. Deployed: the connectors service's INTERNAL_TOKEN_KEY.
    connectors_token_key: str = ""
    connectors_timeout_seconds: float = Field(default=8.0, gt=0, le=60)
    # A contact page reads the contact's bookings from connectors; past this it shows the
    # contact with `bookings: null` and a note instead of waiting.
    contact_bookings_timeout_seconds: float = Field(default=3.0, gt=0, le=60)

    # Live streams (Server-Sent Events): open streams per process and per visitor or owner
    # (beyond: 503 / 429), keep-alive comment interval, fallback poll behind NOTIFY, and how
    # long one stream lasts before the client reconnects (and authenticates again).
    live_max_streams: int = Field(default=1000, ge=1)
    live_streams_per_client: int = Field(default=5, ge=1)
    live_ping_seconds: float = Field(default=15.0, gt=0)
    live_poll_seconds: float = Field(default=30.0, gt=0)
    live_max_stream_seconds: float = Field(default=3600.0, gt=0)

    # Channel credentials at rest: the same comma-separated Fernet keys as connectors, newest
    # first (the first encrypts, all decrypt; rotate with `python -m conversations.reencrypt`).
    connector_encryption_keys: str = DEV_ENCRYPTION_KEY

    # Where replies go. Provider addresses are operator settings only.
    graph_api_base_url: str = "https://graph.facebook.com"
    graph_api_version: str = Field(default="v24.0", pattern=r"^v\d+\.\d+$")
    twilio_api_base_url: str = "https://api.twilio.com"
    # The address providers call back (Twilio's StatusCallback is built from it).
    public_base_url: str = "http://127.0.0.1:8000"
    # Integrator callback URLs must be https; tests and local runs may allow loopback http.
    callback_allow_loopback_http: bool = False

    # DELIVERY_ENABLED=false: this process sends nothing (another deployment runs delivery).
    delivery_enabled: bool = True
    # One provider call: timeout, retries of errors the provider documents as not processed
    # (429, throughput), the longest Retry-After waited for.
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    delivery_max_retries: int = Field(default=3, ge=0, le=10)
    delivery_backoff_seconds: float = Field(default=0.5, ge=0, le=30)
    delivery_max_retry_after_seconds: float = Field(default=30.0, ge=0, le=600)
    # A reply left in `sending` this long (its consumer died mid-call) becomes `unknown`.
    delivery_stale_seconds: float = Field(default=300.0, gt=0)
    delivery_sweep_seconds: float = Field(default=30.0, gt=0)
    # Sends per second per channel account (a burst waits its turn instead of failing):
    # WhatsApp Cloud API 80 mps per number, Messenger/Instagram 300 calls/s per page,
    # a Twilio long code 1 segment/s.
    delivery_rate_whatsapp: float = Field(default=80.0, gt=0)
    delivery_rate_messenger: float = Field(default=300.0, gt=0)
    delivery_rate_instagram: float = Field(default=300.0, gt=0)
    delivery_rate_sms: float = Field(default=1.0, gt=0)
    delivery_rate_callback: float = Field(default=50.0, gt=0)
    # Integrators' callbacks are anybody's servers: to connect (a timeout is retried later
    # from the parking queue, never waited out in place) and for the whole call.
    delivery_callback_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    delivery_callback_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Sends in flight per process for one channel account and for one workspace, so one
    # tenant uses only a few of the consumer's CONSUMER_PREFETCH slots; its other replies wait
    # in the parking queue DELIVERY_PARK_SECONDS at a time (connect timeouts: doubling).
    delivery_concurrency_per_account: int = Field(default=4, ge=1, le=1000)
    delivery_concurrency_per_workspace: int = Field(default=6, ge=1, le=1000)
    delivery_park_seconds: float = Field(default=1.0, gt=0, le=300)
    # Owner replies (POST /messages/ and retries) per workspace per minute, per process.
    owner_replies_per_workspace_per_minute: int = Field(default=120, ge=1)

    # Reminders and confirmations after a booking: a scheduler loop claims due jobs (SKIP
    # LOCKED, so every replica may run one) in batches of REMINDER_BATCH_SIZE, looking for
    # new ones at least every REMINDER_POLL_SECONDS. REMINDERS_ENABLED=false (or
    # RUN_CONSUMERS=false) runs none in this process.
    reminders_enabled: bool = True
    reminder_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    reminder_batch_size: int = Field(default=100, ge=1, le=5000)

    @field_validator("connectors_token_key", "identity_code_key")
    @classmethod
    def _token_key_long_enough(cls, value: str) -> str:
        return token_key_length(value)

    @field_validator("connector_encryption_keys")
    @classmethod
    def _keys_present(cls, value: str) -> str:
        if not parse_keys(value):
            raise ValueError("at least one Fernet key is required")
        return value

    @property
    def visitor_token_secret(self) -> str:
        """Web chat visitor tokens are signed from this service's own internal-token key:
        only conversations checks them, and it holds no SECRET_KEY when deployed."""
        return self.token_key("conversations", "conversations")

    @property
    def encryption_keys(self) -> list[str]:
        return parse_keys(self.connector_encryption_keys)

    def delivery_rate(self, channel: str) -> float:
        if channel in ("chatgpt", "phone"):
            return self.delivery_rate_callback
        rate: float = getattr(self, f"delivery_rate_{channel}", self.delivery_rate_callback)
        return rate
