from pydantic import EmailStr, Field, field_validator

from shared.settings import ServiceSettings, token_key_length


class Settings(ServiceSettings):
    port: int = Field(default=8000, validation_alias="GATEWAY_PORT")

    # Where the owning services listen (inside the compose network in production).
    workspaces_url: str = "http://127.0.0.1:8001"
    connectors_url: str = "http://127.0.0.1:8002"
    conversations_url: str = "http://127.0.0.1:8003"
    # Internal-token keys of the services forwarded to (shared.tokens); unset, derived from
    # SECRET_KEY. Deployed, each is the same value its service gets as INTERNAL_TOKEN_KEY.
    connectors_token_key: str = ""
    conversations_token_key: str = ""
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Event streams (SSE) held open through the gateway: in all (beyond: 503) and per client
    # address (beyond: 429); an upstream silent this long is dropped (the services send a
    # keep-alive comment every 15 s, so only a dead one is).
    stream_max_open: int = Field(default=1000, ge=1)
    stream_max_per_address: int = Field(default=20, ge=1)
    stream_idle_timeout_seconds: float = Field(default=60.0, gt=0)

    # Identity
    first_superuser: EmailStr = "admin@example.com"
    first_superuser_password: str = "changethis-admin"
    access_token_expire_minutes: int = Field(default=60 * 24, ge=1)
    reset_token_expire_minutes: int = Field(default=60, ge=1)
    email_change_token_expire_minutes: int = Field(default=60, ge=1)
    # One account from one address: locked for the window after this many failures.
    login_max_failures: int = Field(default=5, ge=1)
    # One address across accounts, and one account across addresses: past these, attempts
    # are slowed to one per `login_slowdown_seconds`, never locked, so an attacker sharing an
    # office or NAT address (or spraying one victim) cannot lock the others out.
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_max_failures_per_account: int = Field(default=50, ge=1)
    login_slowdown_seconds: float = Field(default=2.0, gt=0, le=60)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    # Argon2id at OWASP's minimum or above: m=19 MiB, t=2, p=1.
    argon2_memory_kib: int = Field(default=19 * 1024, ge=19 * 1024)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)
    # Threads that hash passwords: a login burst queues for them instead of taking cores.
    password_hash_workers: int = Field(default=1, ge=1, le=8)
    # Password recovery e-mails asked for, per hour: for one address (whoever asks) and from
    # one client address (whichever accounts); beyond either, 429 with Retry-After.
    password_recovery_per_address_per_hour: int = Field(default=5, ge=1)
    password_recovery_per_client_per_hour: int = Field(default=20, ge=1)

    # E-mail (recovery, new accounts). No SMTP_HOST: e-mails are logged as skipped.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_ssl: bool = False
    emails_from_email: EmailStr = "noreply@example.com"
    emails_from_name: str = "Base Platform"
    # Where links in e-mails point (the web frontend).
    frontend_url: str = "http://localhost:5173"

    # Channel webhooks
    public_base_url: str = "http://127.0.0.1:8000"
    meta_app_secret: str = "change-me-meta-app-secret"
    meta_verify_token: str = "change-me-meta-verify-token"
    twilio_auth_token: str = "change-me-twilio-auth-token"
    # The signed integrator endpoint (chatgpt, phone): each channel account signs with its own
    # secret, which the gateway asks conversations for and keeps this long (a rotated secret
    # stops working within it).
    inbound_secret_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    # Deprecated, unset by default: one platform-wide HMAC key that lets its holder write into
    # any workspace. Set it only while integrators move to per-account secrets.
    inbound_signing_secret: str | None = None

    @field_validator("connectors_token_key", "conversations_token_key")
    @classmethod
    def _token_keys_long_enough(cls, value: str) -> str:
        return token_key_length(value)
