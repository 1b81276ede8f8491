"""Channel webhooks verified by the gateway itself (Meta, Twilio, signed integrator calls).

Each verified message is published to RabbitMQ as `inbound_message.accepted` with a publisher
confirm before the provider gets its 200.
"""

from fastapi import APIRouter

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
