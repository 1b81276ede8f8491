"""E-mails from templates, sent over SMTP off the request path. Never carries a password."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.settings import Settings
from shared.events import BookingChangedByVisitorV1, ConversationHandedOffV1

log = logging.getLogger(__name__)
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%A %d %B %Y, %H:%M")


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    html: str


def render(template: str, to: str, subject: str, **context: object) -> Email:
    html = _TEMPLATES.get_template(template).render(subject=subject, **context)
    return Email(to=to, subject=subject, html=html)


class EmailSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    async def send(self, email: Email) -> None:
        """Best effort: a failure is logged, never raised into the request that queued it."""
        if not self.enabled:
            log.info("e-mail not sent: SMTP is not configured", extra={"subject": email.subject})
            return
        message = EmailMessage()
        message["From"] = f"{self.settings.emails_from_name} <{self.settings.emails_from_email}>"
        message["To"] = email.to
        message["Subject"] = email.subject
        message.set_content("This message is best read in an HTML-capable mail client.")
        message.add_alternative(email.html, subtype="html")
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_user,
                password=self.settings.smtp_password,
                start_tls=self.settings.smtp_tls,
                use_tls=self.settings.smtp_ssl,
                timeout=10,
            )
            log.info("e-mail sent", extra={"subject": email.subject})
        except Exception:
            log.exception("e-mail could not be sent", extra={"subject": email.subject})

    def reset_password(self, to: str, token: str) -> Email:
        link = f"{self.settings.frontend_url.rstrip('/')}/reset-password?token={token}"
        return render(
            "reset_password.html",
            to,
            f"{self.settings.emails_from_name} - Password recovery",
            email=to,
            link=link,
            valid_minutes=self.settings.reset_token_expire_minutes,
        )

    def email_change_confirmation(self, to: str, token: str) -> Email:
        """To the new address: the link that applies the change."""
        link = f"{self.settings.frontend_url.rstrip('/')}/confirm-email?token={token}"
        return render(
            "email_change_confirm.html",
            to,
            f"{self.settings.emails_from_name} - Confirm your new e-mail",
            email=to,
            link=link,
            valid_minutes=self.settings.email_change_token_expire_minutes,
        )

    def email_change_notice(self, to: str, new_email: str, applied: bool) -> Email:
        """To the old address: a change was asked for, or made."""
        return render(
            "email_change_notice.html",
            to,
            f"{self.settings.emails_from_name} - "
            + ("Your e-mail was changed" if applied else "A change of your e-mail was requested"),
            email=to,
            new_email=new_email,
            applied=applied,
        )

    def handoff(self, to: str, event: ConversationHandedOffV1) -> Email:
        base = self.settings.frontend_url.rstrip("/")
        return render(
            "handoff.html",
            to,
            f"{self.settings.emails_from_name} - A visitor is waiting for you",
            channel=event.channel,
            visitor=event.visitor_name,
            reason=event.reason,
            at=event.handed_off_at.strftime("%Y-%m-%d %H:%M"),
            link=f"{base}/conversations/{event.conversation_id}",
        )

    def booking_changed(self, to: str, event: BookingChangedByVisitorV1) -> Email:
        """A visitor cancelled or moved a booking by talking to the assistant."""
        zone = _zone(event.timezone)
        who = event.visitor_name or "A visitor"
        what = "moved" if event.change == "moved" else "cancelled"
        return render(
            "booking_changed.html",
            to,
            f"{self.settings.emails_from_name} - {who} {what} {event.service}",
            visitor=who,
            change=event.change,
            service=event.service,
            start=_local(event.start, zone),
            new_start=_local(event.new_start, zone) if event.new_start else None,
            timezone=zone.key,
            channel=event.channel,
            after_reminder=event.after_reminder,
            link=f"{self.settings.frontend_url.rstrip('/')}/conversations/{event.conversation_id}",
        )

    def new_account(self, to: str) -> Email:
        return render(
            "new_account.html",
            to,
            f"{self.settings.emails_from_name} - New account",
            email=to,
            link=self.settings.frontend_url,
        )
