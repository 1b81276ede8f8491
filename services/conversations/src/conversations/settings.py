from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8003, validation_alias="CONVERSATIONS_PORT")
